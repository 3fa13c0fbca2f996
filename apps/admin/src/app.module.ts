import { Module } from '@nestjs/common';
import { PersistenceModule } from '@switchyard/persistence';
import { clinicAuthenticatorProvider } from '@switchyard/tenancy';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { ClinicDeliveriesController } from './clinic-api/clinic-deliveries.controller';
import { DeliveryStatsService } from './clinic-api/delivery-stats.service';
import { WebhookOperationsController } from './clinic-api/webhook-operations.controller';
import { ClinicOnboardingService } from './clinics/clinic-onboarding.service';
import { ClinicsController } from './clinics/clinics.controller';
import { DeliveriesController } from './deliveries/deliveries.controller';
import { PortalSessionController } from './portal/portal-session.controller';
import { PortalSessionService } from './portal/portal-session.service';
import { PortalSessionsController } from './portal/portal-sessions.controller';
import { ExternalWebhookController } from './subscribers/external-webhook.controller';
import { SubscriberRegistrationService } from './subscribers/subscriber-registration.service';

@Module({
  imports: [PersistenceModule.forApp('admin')],
  controllers: [
    ClinicsController,
    ExternalWebhookController,
    DeliveriesController,
    WebhookOperationsController,
    ClinicDeliveriesController,
    PortalSessionsController,
    PortalSessionController,
  ],
  providers: [
    AdminAuthGuard,
    ClinicOnboardingService,
    SubscriberRegistrationService,
    clinicAuthenticatorProvider,
    PortalSessionService,
    DeliveryStatsService,
  ],
})
export class AdminAppModule {}
