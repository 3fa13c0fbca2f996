import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { PersistenceModule } from '@switchyard/persistence';
import { clinicAuthProviders } from '@switchyard/tenancy';
import { AuditController, ClinicAuditController } from './audit/audit.controller';
import { AuditInterceptor } from './audit/audit.interceptor';
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
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor';
import { ClinicCeilingsService } from './limits/clinic-ceilings.service';
import { ClinicLimitsController } from './limits/clinic-limits.controller';
import { RetentionService } from './retention/retention.service';
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
    ClinicLimitsController,
    AuditController,
    ClinicAuditController,
  ],
  providers: [
    // Global, in this order (the first wraps the second): every write is audited, every POST takes an Idempotency-Key.
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
    { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
    AdminAuthGuard,
    ClinicCeilingsService,
    RetentionService,
    ClinicOnboardingService,
    SubscriberRegistrationService,
    ...clinicAuthProviders,
    PortalSessionService,
    DeliveryStatsService,
  ],
})
export class AdminAppModule {}
