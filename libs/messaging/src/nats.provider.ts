import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { LOGGER, Logger } from '@switchyard/observability';
import { NatsLink } from './nats-link';

/**
 * The app's NatsLink (inject it by its class), connecting in the background from the moment the app
 * starts: the app does not wait for NATS to boot, and reports not-ready (nats) until it is connected.
 */
export function natsProvider(appName: string): Provider {
  return {
    provide: NatsLink,
    inject: [APP_CONFIG, LOGGER],
    useFactory: (c: AppConfig, log: Logger) => new NatsLink({ url: c.NATS_URL, name: `switchyard-${appName}`, log }).start(),
  };
}
