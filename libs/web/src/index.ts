export * from './api-error';
export * from './http-error.filter';
export * from './client-error';
