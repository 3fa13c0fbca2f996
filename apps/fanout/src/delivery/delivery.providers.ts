import { Provider } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { AttemptRunner, DeliveryDispatcher, DeliveryScheduler, FlowControl, RetryPolicy, WebhookSender } from '@switchyard/delivery';
import { LOGGER, Logger, Metrics } from '@switchyard/observability';
import { DeliveryFlowRepository, DeliveryRepository, PgListener, SubscriberCache, SubscriberRepository, pgListenerProvider } from '@switchyard/persistence';
import { compileAllowedCidrs, createGuardedDispatcher, isBlockedAddressError } from '@switchyard/url-safety';
import { AckFloor } from '../inbound/ack-floor';

/** This process as it holds in-flight slots (`delivery_slots.holder`) and signs its announcements. */
export const FLOW_HOLDER = Symbol('FLOW_HOLDER');

/** How long an in-flight slot stays with this process unused before it is given back. */
const SLOT_LINGER_MS = 5_000;

/** The delivery engine of this process: guarded HTTP client, flow control, dispatcher, scheduler. */
export const deliveryProviders: Provider[] = [
  { provide: FLOW_HOLDER, useFactory: () => `${hostname().replace(/[^\w.-]/g, '_')}-${process.pid}-${randomBytes(3).toString('hex')}` },
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
  pgListenerProvider('fanout'),
  {
    provide: SubscriberCache,
    inject: [SubscriberRepository, PgListener, APP_CONFIG],
    useFactory: (repo: SubscriberRepository, listener: PgListener, c: AppConfig) =>
      new SubscriberCache(repo, { listener, schema: c.DATABASE_SCHEMA, ttlMs: c.SUBSCRIBER_CACHE_TTL }),
  },
  {
    provide: FlowControl,
    inject: [DeliveryFlowRepository, FLOW_HOLDER, APP_CONFIG, LOGGER],
    useFactory: (repo: DeliveryFlowRepository, holder: string, c: AppConfig, log: Logger) =>
      new FlowControl(
        repo,
        { holder, leaseMs: c.DELIVERY_LEASE, defaultMaxInFlight: c.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER, lingerMs: SLOT_LINGER_MS },
        (err, what) => log.error({ err }, `${what} failed`),
      ),
  },
  {
    provide: AttemptRunner,
    inject: [WebhookSender, APP_CONFIG, Metrics, LOGGER],
    useFactory: (sender: WebhookSender, c: AppConfig, metrics: Metrics, log: Logger) =>
      new AttemptRunner(sender, new RetryPolicy(c.RETRY_SCHEDULE, c.RETRY_JITTER), metrics, log, true),
  },
  {
    provide: DeliveryDispatcher,
    inject: [FlowControl, AttemptRunner, DeliveryRepository, APP_CONFIG, Metrics, LOGGER],
    useFactory: (flow: FlowControl, runner: AttemptRunner, repo: DeliveryRepository, c: AppConfig, metrics: Metrics, log: Logger) =>
      new DeliveryDispatcher(
        flow,
        runner,
        repo,
        { concurrency: c.DELIVERY_CONCURRENCY, perClinic: Math.min(c.DELIVERY_MAX_IN_FLIGHT_PER_CLINIC, c.DELIVERY_CONCURRENCY) },
        metrics,
        log,
      ),
  },
  {
    provide: DeliveryScheduler,
    inject: [DeliveryRepository, DeliveryDispatcher, FlowControl, AckFloor, APP_CONFIG, Metrics, LOGGER],
    useFactory: (repo: DeliveryRepository, dispatcher: DeliveryDispatcher, flow: FlowControl, floor: AckFloor, c: AppConfig, metrics: Metrics, log: Logger) =>
      new DeliveryScheduler(
        repo,
        dispatcher,
        flow,
        () => floor.storedThrough(),
        {
          leaseMs: c.DELIVERY_LEASE,
          defaultMaxInFlight: c.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER,
          pollIntervalMs: c.DELIVERY_POLL_INTERVAL,
          idlePollMs: Math.max(c.DELIVERY_POLL_INTERVAL, c.DELIVERY_IDLE_POLL_INTERVAL),
        },
        metrics,
        log,
      ),
  },
];
