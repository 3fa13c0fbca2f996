import { Module } from '@nestjs/common';
import { PersistenceModule } from '@switchyard/persistence';
import { clinicAuthenticatorProvider } from '@switchyard/tenancy';
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
    clinicAuthenticatorProvider,
  ],
})
export class AdminAppModule {}
