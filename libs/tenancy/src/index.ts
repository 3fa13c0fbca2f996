export * from './api-key';
export * from './clinic-authenticator';
