import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { DedupeClient } from '@switchyard/dedupe';
import { InboundPublisher, NATS, natsProvider } from '@switchyard/messaging';
import { ClinicLimitsRepository, PersistenceModule } from '@switchyard/persistence';
import { clinicAuthenticatorProvider } from '@switchyard/tenancy';
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
      inject: [NATS, APP_CONFIG],
      useFactory: (nc, c: AppConfig) => new InboundPublisher(nc, subjectsFor(c.NATS_PREFIX), c.PUBLISH_TIMEOUT),
    },
    { provide: ClinicRateLimiter, useFactory: () => new ClinicRateLimiter() },
    {
      provide: ClinicIngressRates,
      inject: [ClinicLimitsRepository, APP_CONFIG],
      useFactory: (limits: ClinicLimitsRepository, c: AppConfig) => new ClinicIngressRates(limits, c, c.AUTH_CACHE_TTL),
    },
    { provide: DedupeClient, inject: [APP_CONFIG], useFactory: (c: AppConfig) => new DedupeClient(c.DEDUPE_GRPC_URL, c.DEDUPE_TIMEOUT) },
    clinicAuthenticatorProvider,
  ],
})
export class IngressAppModule implements OnApplicationShutdown {
  constructor(
    @Inject(NATS) private readonly nc: import('@nats-io/transport-node').NatsConnection,
    private readonly dedupe: DedupeClient,
  ) {}

  async onApplicationShutdown() {
    await this.dedupe.close();
    await this.nc.drain().catch(() => undefined);
  }
}
