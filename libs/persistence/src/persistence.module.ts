import { DynamicModule, Global, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { KeyRing } from '@switchyard/secrets';
import { createDataSource } from './data-source';
import { PgListener } from './pg-listener';
import {
  ApiKeyRepository,
  AuditRepository,
  ClinicLimitsRepository,
  ClinicRepository,
  DeliveryFlowRepository,
  DeliveryQueryRepository,
  DeliveryRepository,
  PortalSessionRepository,
  RequestIdempotencyRepository,
  RetentionRepository,
  SubscriberRepository,
} from './repositories';

/** The data source of the app (initialised at start, closed at shutdown) and the repositories on it. */
@Global()
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(private readonly moduleRef: ModuleRef) {}

  /**
   * Closes the pool. Runs after the app's own shutdown hooks (this module is deeper in the graph), so
   * work they finish on the way out still has its connections; without it every stopped app left its
   * Postgres connections open (and a test process that restarts apps could not exit).
   */
  async onApplicationShutdown() {
    const ds = this.moduleRef.get(DataSource, { strict: false });
    if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
  }

  /** `sessionSettings`: see DatabaseOptions (the dedupe service's planner settings, for one). */
  static forApp(appName: string, sessionSettings?: Record<string, string>): DynamicModule {
    const repositories = [
      ApiKeyRepository,
      ClinicRepository,
      DeliveryFlowRepository,
      DeliveryQueryRepository,
      AuditRepository,
      ClinicLimitsRepository,
      RetentionRepository,
      PortalSessionRepository,
    ];
    /** Repositories that read or write secrets, which they keep encrypted with the app's KeyRing. */
    const sealing = [DeliveryRepository, SubscriberRepository, RequestIdempotencyRepository];
    return {
      module: PersistenceModule,
      providers: [
        {
          provide: DataSource,
          inject: [APP_CONFIG],
          useFactory: async (config: AppConfig) => {
            const ds = createDataSource({
              url: config.DATABASE_URL,
              schema: config.DATABASE_SCHEMA,
              poolSize: config.DATABASE_POOL_SIZE,
              applicationName: `switchyard-${appName}`,
              sessionSettings,
            });
            try {
              return await ds.initialize();
            } catch (err) {
              throw new Error(
                `cannot reach Postgres at ${redactUrl(config.DATABASE_URL)} (${(err as Error).message}). Start it ` +
                  '(e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL.',
              );
            }
          },
        },
        { provide: KeyRing, inject: [APP_CONFIG], useFactory: (config: AppConfig) => KeyRing.fromConfig(config) },
        ...repositories.map((R) => ({ provide: R, inject: [DataSource], useFactory: (ds: DataSource) => new R(ds) })),
        ...sealing.map((R) => ({ provide: R, inject: [DataSource, KeyRing], useFactory: (ds: DataSource, keys: KeyRing) => new R(ds, keys) })),
      ],
      exports: [DataSource, KeyRing, ...repositories, ...sealing],
    };
  }
}

/** The app's listening connection (started and stopped by the app), on a connection of its own outside the pool. */
export function pgListenerProvider(appName: string): Provider {
  return {
    provide: PgListener,
    inject: [APP_CONFIG],
    useFactory: (c: AppConfig) =>
      new PgListener({
        connect: () => new Client({ connectionString: c.DATABASE_URL, application_name: `switchyard-${appName}-listen`, connectionTimeoutMillis: 5_000, keepAlive: true }),
      }),
  };
}

/** A connection URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
