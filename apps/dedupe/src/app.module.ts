import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { CLAIM_SESSION_SETTINGS, ClaimStore, claimStatementsInFlight } from '@switchyard/dedupe';
import { Metrics } from '@switchyard/observability';
import { PersistenceModule } from '@switchyard/persistence';
import { ClaimCleanupService } from './claims/claim-cleanup.service';
import { DedupeGrpcController } from './claims/dedupe.grpc-controller';
import { GrpcHealthController } from './health/grpc-health.controller';

@Module({
  imports: [PersistenceModule.forApp('dedupe', CLAIM_SESSION_SETTINGS)],
  controllers: [DedupeGrpcController, GrpcHealthController],
  providers: [
    {
      provide: ClaimStore,
      inject: [DataSource, APP_CONFIG, Metrics],
      useFactory: (ds: DataSource, config: AppConfig, metrics: Metrics) =>
        new ClaimStore(
          ds,
          config.DEDUPE_TTL,
          config.DEDUPE_LEASE,
          (size) => metrics.dedupeBatchSize.observe(size),
          claimStatementsInFlight(config.DATABASE_POOL_SIZE),
        ),
    },
    ClaimCleanupService,
  ],
})
export class DedupeAppModule {}
