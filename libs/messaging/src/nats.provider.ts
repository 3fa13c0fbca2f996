import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { connectNats } from './nats-connection';

/** Injection token of the app's NATS connection. */
export const NATS = Symbol('NATS');

export function natsProvider(appName: string): Provider {
  return {
    provide: NATS,
    inject: [APP_CONFIG],
    useFactory: (c: AppConfig) => connectNats(c.NATS_URL, `switchyard-${appName}`),
  };
}
