export * from './api-key';
export * from './clinic-authenticator';
export * from './clinic-authenticator.provider';
