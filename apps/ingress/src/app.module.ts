import { Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { DedupeClient } from '@switchyard/dedupe';
import { InboundPublisher, NatsLink, natsProvider } from '@switchyard/messaging';
import { ClinicChanges, ClinicLimitsRepository, PersistenceModule, pgListenerProvider } from '@switchyard/persistence';
import { clinicAuthProviders } from '@switchyard/tenancy';
import { ClinicChangesLifecycle } from './webhooks/clinic-changes.lifecycle';
import { ClinicIngressRates } from './webhooks/clinic-ingress-rates';
import { ClinicRateLimiter } from './webhooks/clinic-rate-limiter';
import { NimbusWebhookController } from './webhooks/nimbus-webhook.controller';
import { ReceiveNimbusEventUseCase } from './webhooks/receive-nimbus-event.usecase';

@Module({
  imports: [PersistenceModule.forApp('ingress')],
  controllers: [NimbusWebhookController],
  providers: [
    ReceiveNimbusEventUseCase,
    natsProvider('ingress'),
    {
      provide: InboundPublisher,
      inject: [NatsLink, APP_CONFIG],
      useFactory: (nats: NatsLink, c: AppConfig) => new InboundPublisher(nats, subjectsFor(c.NATS_PREFIX), c.PUBLISH_TIMEOUT),
    },
    { provide: ClinicRateLimiter, useFactory: () => new ClinicRateLimiter() },
    {
      provide: ClinicIngressRates,
      inject: [ClinicLimitsRepository, ClinicChanges, APP_CONFIG],
      useFactory: (limits: ClinicLimitsRepository, changes: ClinicChanges, c: AppConfig) => new ClinicIngressRates(limits, c, changes),
    },
    { provide: DedupeClient, inject: [APP_CONFIG], useFactory: (c: AppConfig) => new DedupeClient(c.DEDUPE_GRPC_URL, c.DEDUPE_TIMEOUT, c.DEDUPE_COMPLETION_LINGER) },
    pgListenerProvider('ingress'),
    ...clinicAuthProviders,
    ClinicChangesLifecycle,
  ],
})
export class IngressAppModule implements OnApplicationShutdown {
  constructor(
    private readonly nats: NatsLink,
    private readonly dedupe: DedupeClient,
  ) {}

  async onApplicationShutdown() {
    await this.dedupe.close();
    await this.nats.close();
  }
}
