import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ApiKeyRepository, ClinicChanges, PgListener } from '@switchyard/persistence';
import { ClinicAuthenticator } from './clinic-authenticator';

/**
 * The app's ClinicChanges and ClinicAuthenticator (ingress and admin). An app that provides a PgListener
 * (ingress) keeps answers for AUTH_CACHE_MAX_AGE while it hears changes; one that does not (admin), for
 * AUTH_CACHE_TTL.
 */
export const clinicAuthProviders: Provider[] = [
  {
    provide: ClinicChanges,
    inject: [APP_CONFIG, { token: PgListener, optional: true }],
    useFactory: (c: AppConfig, listener?: PgListener) =>
      new ClinicChanges({ listener, schema: c.DATABASE_SCHEMA, ttlMs: c.AUTH_CACHE_TTL, maxAgeMs: c.AUTH_CACHE_MAX_AGE }),
  },
  {
    provide: ClinicAuthenticator,
    inject: [ApiKeyRepository, ClinicChanges, APP_CONFIG],
    useFactory: (keys: ApiKeyRepository, changes: ClinicChanges, c: AppConfig) => new ClinicAuthenticator(keys, c.KEY_PEPPER, changes),
  },
];
