import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ApiKeyRepository, PersistenceModule } from '@switchyard/persistence';
import { ClinicAuthenticator } from '@switchyard/tenancy';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { ClinicOnboardingService } from './clinics/clinic-onboarding.service';
import { ClinicsController } from './clinics/clinics.controller';
import { DeliveriesController } from './deliveries/deliveries.controller';
import { ExternalWebhookController } from './subscribers/external-webhook.controller';
import { SubscriberRegistrationService } from './subscribers/subscriber-registration.service';

@Module({
  imports: [PersistenceModule.forApp('admin')],
  controllers: [ClinicsController, ExternalWebhookController, DeliveriesController],
  providers: [
    AdminAuthGuard,
    ClinicOnboardingService,
    SubscriberRegistrationService,
    {
      provide: ClinicAuthenticator,
      inject: [ApiKeyRepository, APP_CONFIG],
      useFactory: (keys: ApiKeyRepository, c: AppConfig) => new ClinicAuthenticator(keys, c.KEY_PEPPER, c.AUTH_CACHE_TTL),
    },
  ],
})
export class AdminAppModule {}
