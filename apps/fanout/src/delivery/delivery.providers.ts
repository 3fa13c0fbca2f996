import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { DeliveryDispatcher, RetryPolicy, WebhookSender } from '@switchyard/delivery';
import { LOGGER, Logger, Metrics } from '@switchyard/observability';
import { DeliveryRepository, SubscriberRepository } from '@switchyard/persistence';
import { compileAllowedCidrs, createGuardedDispatcher, isBlockedAddressError } from '@switchyard/url-safety';

/** The delivery engine of this process: guarded HTTP client, retry policy, dispatcher. */
export const deliveryProviders: Provider[] = [
  {
    provide: WebhookSender,
    inject: [APP_CONFIG],
    useFactory: (c: AppConfig) => {
      const policy = {
        allowInsecure: c.ALLOW_INSECURE_SUBSCRIBER_URLS,
        allowedCidrs: c.SUBSCRIBER_ALLOWED_CIDRS.split(',').map((s) => s.trim()).filter(Boolean),
      };
      compileAllowedCidrs(policy);
      return new WebhookSender({
        dispatcher: createGuardedDispatcher(policy, { connectTimeoutMs: c.DELIVERY_CONNECT_TIMEOUT }),
        defaultTimeoutMs: c.DELIVERY_TIMEOUT,
        isBlockedError: isBlockedAddressError,
      });
    },
  },
  {
    provide: DeliveryDispatcher,
    inject: [DeliveryRepository, SubscriberRepository, WebhookSender, APP_CONFIG, Metrics, LOGGER],
    useFactory: (repo: DeliveryRepository, subscribers: SubscriberRepository, sender: WebhookSender, c: AppConfig, metrics: Metrics, log: Logger) =>
      new DeliveryDispatcher(
        repo,
        sender,
        new RetryPolicy(c.RETRY_SCHEDULE, c.RETRY_JITTER),
        {
          concurrency: c.DELIVERY_CONCURRENCY,
          maxInFlightPerSubscriber: c.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER,
          pollIntervalMs: c.DELIVERY_POLL_INTERVAL,
          leaseMs: c.DELIVERY_LEASE,
        },
        metrics,
        log,
        {
          // 410 Gone: the receiver says the endpoint is gone for good; stop sending, keep its events.
          onGone: async (job) => {
            await subscribers.update(job.subscriber.clinicId, job.subscriber.id, { enabled: false, disabledReason: 'answered 410 Gone' });
            await repo.parkWaiting(job.subscriber.id);
            metrics.subscribersDisabled.inc({ reason: 'gone' });
          },
        },
      ),
  },
];
