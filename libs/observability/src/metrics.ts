import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric Switchyard exports, in one place: names, help, label sets and buckets. Label values are
 * bounded (routes, status classes, event types of the known set or "other", outcomes); a per-clinic label
 * exists only where METRICS_CLINIC_LABEL turns it on.
 */
export const MetricNames = {
  httpRequests: 'switchyard_http_requests_total',
  httpDuration: 'switchyard_http_request_duration_seconds',
  eventsReceived: 'switchyard_ingress_events_total',
  publishDuration: 'switchyard_jetstream_publish_duration_seconds',
  dedupeClaims: 'switchyard_dedupe_claims_total',
  dedupeClaimDuration: 'switchyard_dedupe_claim_duration_seconds',
  dedupeBatchSize: 'switchyard_dedupe_batch_size',
  fanoutEvents: 'switchyard_fanout_events_total',
  deliveriesCreated: 'switchyard_deliveries_created_total',
  deliveryAttempts: 'switchyard_delivery_attempts_total',
  attemptDuration: 'switchyard_delivery_attempt_duration_seconds',
  endToEndDuration: 'switchyard_delivery_end_to_end_seconds',
  retriesScheduled: 'switchyard_delivery_retries_scheduled_total',
  deadLetters: 'switchyard_dead_letters_total',
  deliveriesInFlight: 'switchyard_deliveries_in_flight',
  consumerPending: 'switchyard_consumer_pending_messages',
  consumerAckPending: 'switchyard_consumer_ack_pending_messages',
  subscribersDisabled: 'switchyard_subscribers_disabled_total',
  deliveriesDue: 'switchyard_deliveries_due',
  dependencyUp: 'switchyard_dependency_up',
} as const;

type MetricKey = keyof typeof MetricNames;

/**
 * Which app exports which metric. Every app can record any metric (code shared between apps never needs
 * to ask), but /metrics only shows the ones the app owns, so ingress or admin does not export an idle
 * `switchyard_deliveries_in_flight 0` (a line per pod on the "Deliveries in flight" panel, like a fan-out
 * that delivers nothing). An app not listed here (a test's) exports everything.
 */
const COMMON: readonly MetricKey[] = ['httpRequests', 'httpDuration', 'dependencyUp'];
export const METRICS_BY_APP: Readonly<Record<string, readonly MetricKey[]>> = {
  admin: COMMON,
  ingress: [...COMMON, 'eventsReceived', 'publishDuration', 'dedupeClaims', 'dedupeClaimDuration'],
  dedupe: [...COMMON, 'dedupeClaims', 'dedupeClaimDuration', 'dedupeBatchSize'],
  fanout: [
    ...COMMON,
    'fanoutEvents',
    'deliveriesCreated',
    'deliveryAttempts',
    'attemptDuration',
    'endToEndDuration',
    'retriesScheduled',
    'deadLetters',
    'deliveriesInFlight',
    'consumerPending',
    'consumerAckPending',
    'subscribersDisabled',
    'deliveriesDue',
  ],
};

export interface MetricsOptions {
  /** METRICS_CLINIC_LABEL: add a `clinic_id` label to ingress events and delivery attempts. */
  clinicLabel?: boolean;
  /** Known event types: their rare-but-alerted counters (dead letters) start at 0, so `increase()` sees the first one. */
  eventTypes?: readonly string[];
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const E2E_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 900, 3600, 7200];

/** Known event names keep their label; anything else is "other", so a sender cannot explode cardinality. */
export function eventTypeLabel(eventName: string, known: readonly string[]): string {
  return known.includes(eventName) ? eventName : 'other';
}

/**
 * How often the event-loop delay histogram (`nodejs_eventloop_lag_*`) samples, instead of prom-client's 10 ms,
 * whose timer woke every app ~200 times a second, idle or not (strace: all of an idle app's epoll wake-ups).
 * A stall longer than this is still caught whole; shorter ones when they cover a sample.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: MetricNames.httpRequests,
    help: 'HTTP requests served, by route and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: MetricNames.httpDuration,
    help: 'HTTP request latency in seconds, by route.',
    labelNames: ['route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly eventsReceived = new Counter({
    name: MetricNames.eventsReceived,
    help: 'Events received by ingress, by event type and result (accepted, duplicate, rejected, unavailable).',
    labelNames: ['event_type', 'result', 'reason', 'clinic_id'] as const,
    registers: [this.registry],
  });
  readonly publishDuration = new Histogram({
    name: MetricNames.publishDuration,
    help: 'JetStream publish latency until the PubAck, in seconds.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly dedupeClaims = new Counter({
    name: MetricNames.dedupeClaims,
    help: 'Idempotency claims, by side (client or server) and result (new, duplicate, in_progress, error).',
    labelNames: ['side', 'result'] as const,
    registers: [this.registry],
  });
  readonly dedupeClaimDuration = new Histogram({
    name: MetricNames.dedupeClaimDuration,
    help: 'Idempotency claim latency in seconds, as seen by the caller (client) or the database (server).',
    labelNames: ['side'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly dedupeBatchSize = new Histogram({
    name: MetricNames.dedupeBatchSize,
    help: 'Claims and completions written per database statement.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly fanoutEvents = new Counter({
    name: MetricNames.fanoutEvents,
    help: 'Inbound events processed by fan-out, by result (stored, duplicate, invalid).',
    labelNames: ['event_type', 'result'] as const,
    registers: [this.registry],
  });
  readonly deliveriesCreated = new Counter({
    name: MetricNames.deliveriesCreated,
    help: 'Deliveries created (one per matching subscriber and event), by how their first attempt goes: direct (straight from the consumed message), queued (through the scheduler: ordered, throttled, busy or a redelivered message), parked (subscriber disabled) or dead (the subscriber\'s signing secret cannot be read: dead-lettered at once).',
    labelNames: ['event_type', 'first_attempt'] as const,
    registers: [this.registry],
  });
  readonly deliveryAttempts = new Counter({
    name: MetricNames.deliveryAttempts,
    help: 'Delivery attempts, by outcome (success, http_error, timeout, network_error, blocked, redirect, unrenderable) and attempt number.',
    labelNames: ['outcome', 'attempt', 'clinic_id'] as const,
    registers: [this.registry],
  });
  readonly attemptDuration = new Histogram({
    name: MetricNames.attemptDuration,
    help: 'Latency of one delivery attempt in seconds.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly endToEndDuration = new Histogram({
    name: MetricNames.endToEndDuration,
    help: 'Time from ingress receipt to successful delivery, in seconds (retries included).',
    labelNames: ['event_type'] as const,
    buckets: E2E_BUCKETS,
    registers: [this.registry],
  });
  readonly retriesScheduled = new Counter({
    name: MetricNames.retriesScheduled,
    help: 'Failed attempts that scheduled another attempt.',
    labelNames: ['attempt'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: MetricNames.deadLetters,
    help: "Deliveries dead-lettered: their last attempt failed, or their subscriber's signing secret cannot be read.",
    labelNames: ['event_type'] as const,
    registers: [this.registry],
  });
  readonly deliveriesInFlight = new Gauge({
    name: MetricNames.deliveriesInFlight,
    help: 'Delivery attempts under way in this process.',
    registers: [this.registry],
  });
  readonly consumerPending = new Gauge({
    name: MetricNames.consumerPending,
    help: 'Messages in the inbound stream not yet delivered to the fan-out consumer (consumer lag).',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });
  readonly consumerAckPending = new Gauge({
    name: MetricNames.consumerAckPending,
    help: 'Messages delivered to the fan-out consumer and not yet acknowledged.',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });
  readonly subscribersDisabled = new Counter({
    name: MetricNames.subscribersDisabled,
    help: 'Subscribers disabled automatically (a 410 Gone answer).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly deliveriesDue = new Gauge({
    name: MetricNames.deliveriesDue,
    help: 'Deliveries waiting for an attempt whose due time has passed (delivery backlog).',
    registers: [this.registry],
  });

  readonly dependencyUp = new Gauge({
    name: MetricNames.dependencyUp,
    help: 'Whether a dependency of this app (postgres, nats, dedupe) answered its last readiness check (1) or not (0).',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  private readonly clinicLabel: boolean;

  constructor(app: string, options: MetricsOptions = {}) {
    this.clinicLabel = options.clinicLabel ?? false;
    this.registry.setDefaultLabels({ app });
    const owned = METRICS_BY_APP[app];
    if (owned) {
      for (const key of Object.keys(MetricNames) as MetricKey[]) {
        if (!owned.includes(key)) this.registry.removeSingleMetric(MetricNames[key]);
      }
    }
    // Counters that alerts watch with increase()/rate() exist from the start at 0.
    for (const eventType of [...(options.eventTypes ?? []), 'other']) this.deadLetters.inc({ event_type: eventType }, 0);
    this.subscribersDisabled.inc({ reason: 'gone' }, 0);
    this.dedupeClaims.inc({ side: app === 'dedupe' ? 'server' : 'client', result: 'error' }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: '', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** `{ clinic_id }` when METRICS_CLINIC_LABEL is on, else nothing: spread it into the labels of per-clinic metrics. */
  clinicLabels(clinicId: string): { clinic_id?: string } {
    return this.clinicLabel ? { clinic_id: clinicId } : {};
  }
}
