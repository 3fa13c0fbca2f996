import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { MicroBatcher } from '@switchyard/batching';
import { KNOWN_EVENT_NAMES, entityIdOf, eventDataOf } from '@switchyard/contracts';
import { Admission, AttemptReport, DeliveryDispatcher, DeliveryScheduler, UNREADABLE_SECRET_LOG } from '@switchyard/delivery';
import {
  DeliveryJob,
  DeliveryRepository,
  InboundRecord,
  NewDelivery,
  StoredEvent,
  SubscriberCache,
  SubscriberLookup,
  newRowId,
} from '@switchyard/persistence';
import type { Span } from '@opentelemetry/api';
import { LOGGER, Logger, Metrics, endBatchMember, eventTypeLabel, inBatchSpan, startBatchMember } from '@switchyard/observability';
import { FLOW_HOLDER } from '../delivery/delivery.providers';

export interface FanOutResult {
  /** False when the event was stored before (a redelivered message): nothing new was created. */
  created: boolean;
  deliveries: number;
}

/**
 * A store under way this long means Postgres hangs (a network that drops packets, a lock held): a busy
 * database stores a batch in tens of milliseconds, and seconds only on a machine far past saturation.
 */
const STORE_STALLED_MS = 2_000;

/** The step of fanning an event out that failed (its message is nak'ed and comes back either way). */
export type FanOutStep = 'subscriber lookup' | 'flow control' | 'store';

/** A failure of one step of FanOutEventUseCase.execute, named for the consumer's log line. */
export class FanOutStepFailed extends Error {
  constructor(
    readonly step: FanOutStep,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** One inbound event as fan-out reads it off the stream. */
export type InboundEvent = Omit<StoredEvent, 'entityId'>;

/**
 * One inbound event → one delivery per matching subscriber, stored with its event before the message is
 * acknowledged. On the happy path nothing is written before the first attempts: deliveries that may go
 * at once (a slot, a token and room — see DeliveryDispatcher) are attempted straight from the consumed
 * message, and the event is stored with its deliveries *and their first attempts* in one statement shared
 * with every event stored at the same time, once the answers are in or `DELIVERY_FAST_PATH_WAIT` has
 * passed (attempts still under way are stored `delivering` and recorded when they end). Ordered
 * subscribers, subscribers with queued work and those without room go to the scheduler. A message that was
 * delivered before (`fresh` false) may already be stored: it is stored first, attempts nothing itself, and
 * whatever it newly creates is queued — so a redelivery never repeats an attempt that was recorded.
 *
 * An attempt made before its event is stored is repeated if the store then fails (the message comes back),
 * so the fast path closes while Postgres is not storing: from a failed store until one succeeds, and while
 * a store has been under way longer than STORE_STALLED_MS (a database that hangs rather than fails). Every
 * event is then stored first and its deliveries queued, like a redelivered one; at most the events already
 * under way when Postgres went away are attempted twice (the same webhook-id both times).
 *
 * A subscriber whose signing secret cannot be read (its key taken out of SECRETS_KEYS) gets its delivery
 * stored dead-lettered with that error, as the scheduler's lease does with queued ones (parked while it is
 * disabled, like any disabled subscriber's), and counted as a dead letter; its clinic's other subscribers
 * are served as usual. Thrown from the lookup, it failed every event of its clinic, each message coming back
 * every 2 s for ever.
 */
@Injectable()
export class FanOutEventUseCase {
  /**
   * Events stored together: one statement (one commit) for a batch, which is a span of its own linked to
   * each event's `store event` span. A batch waits for more events when some are still making their first
   * attempts in this process or messages arrive closer together than its window, so that at moderate rates
   * many share a commit; otherwise (a quiet stream) it is written at once. Its window is
   * `DELIVERY_RECORD_WINDOW` while all its deliveries went straight out (the commit only records them and
   * lets the messages be acked: at 200 events/s, 25 ms made 54 commits a second and 100 ms 10, and each
   * costs Postgres a wake-up and a flush; bench/RESULTS.md, fifteenth round), and `DELIVERY_STORE_WINDOW`
   * once it holds a delivery that waits for the commit to be queued.
   */
  private readonly store: MicroBatcher<{ record: InboundRecord; span?: Span }, boolean>;
  /** Events between their message and their store (their first attempts under way). */
  private beforeStore = 0;
  /** Time between the last two messages (performance.now() clock), and when the last one came. */
  private arrivalGap = Infinity;
  private lastArrival = -Infinity;
  private readonly roomWaiters = new Set<() => void>();
  /** Deliveries the last event with any sent straight out, at most this process's capacity: the room a message waits for (see hasRoom). */
  private width = 1;
  /** Set by a failed store, cleared by one that succeeds (see the class comment). */
  private storeFailing = false;
  /** Stores under way, oldest first, with when each was asked for (performance.now() clock). */
  private readonly storesUnderWay = new Set<{ since: number }>();
  private readonly recordWindowMs: number;
  /** Per clinic, its subscribers whose secrets could not be read, logged once each, with the error logged (see noteUnreadable). */
  private readonly unreadableLogged = new Map<string, Map<string, string>>();

  constructor(
    private readonly subscribers: SubscriberCache,
    private readonly deliveries: DeliveryRepository,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly scheduler: DeliveryScheduler,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(FLOW_HOLDER) private readonly holder: string,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.recordWindowMs = Math.max(config.DELIVERY_RECORD_WINDOW, config.DELIVERY_STORE_WINDOW);
    this.store = new MicroBatcher(
      (items) =>
        inBatchSpan(
          'store inbound events',
          items.map((i) => i.span),
          () => this.deliveries.storeInbound(items.map((i) => i.record), { schema: this.config.DATABASE_SCHEMA, holder: this.holder }),
        ),
      256,
      2,
      {
        windowMs: this.recordWindowMs,
        urgent: { windowMs: this.config.DELIVERY_STORE_WINDOW, test: (i) => queuesWork(i.record) },
        moreExpected: () => this.beforeStore > 0 || this.arrivalGap < this.recordWindowMs,
      },
    );
    dispatcher.whenCapacityFrees(() => {
      for (const check of this.roomWaiters) check();
    });
  }

  /**
   * Whether a new message can start its attempts now: this process has free places for as many deliveries
   * as the last event sent straight out (`width`) and owes none to queued work. Overloaded, fan-out then
   * takes messages at the pace attempts end (the backlog waits in JetStream, where it costs nothing) instead
   * of taking them, waiting `DELIVERY_FAST_PATH_WAIT` for places and queueing their deliveries in Postgres,
   * which costs statements and starves the queue. Room for a whole event, not for one delivery: with one
   * free place, an event's other deliveries waited for places one by one, each a wait with its own steps
   * (bench/RESULTS.md, twenty-seventh round).
   */
  hasRoom(): boolean {
    return this.dispatcher.free >= this.width && !this.scheduler.owedRoom;
  }

  /**
   * Resolves 'room' once `hasRoom()`; at `deadline` (performance.now() clock) 'moving' if room freed
   * meanwhile and went to others (first attempts already waiting for a place, or queued work owed it), or
   * 'stalled' if none freed at all (attempts hang rather than end).
   */
  waitForRoom(deadline: number): Promise<'room' | 'moving' | 'stalled'> {
    if (this.hasRoom()) return Promise.resolve('room');
    return new Promise((resolve) => {
      let moved = false;
      const timer = setTimeout(() => done(moved ? 'moving' : 'stalled'), Math.max(0, deadline - performance.now()));
      const done = (answer: 'room' | 'moving' | 'stalled') => {
        clearTimeout(timer);
        this.roomWaiters.delete(check);
        resolve(answer);
      };
      // Called whenever room may have freed (an attempt ended, queued work took what it was owed).
      const check = () => {
        moved = true;
        if (this.hasRoom()) done('room');
      };
      this.roomWaiters.add(check);
    });
  }

  /** `admitted` is called once its first attempts have started or been queued (the consumer then takes the next message). */
  async execute(inbound: InboundEvent, fresh: boolean, admitted: () => void = () => undefined): Promise<FanOutResult> {
    const now = performance.now();
    this.arrivalGap = now - this.lastArrival;
    this.lastArrival = now;
    this.beforeStore++;
    let storing = false;
    try {
      return await this.fanOut(inbound, fresh, admitted, () => {
        storing = true;
        this.beforeStore--;
      });
    } finally {
      if (!storing) this.beforeStore--;
    }
  }

  private async fanOut(inbound: InboundEvent, fresh: boolean, admitted: () => void, storing: () => void): Promise<FanOutResult> {
    // One budget for waiting on a slot, a place and the answers: then the event is stored, whatever is still under way.
    const deadline = performance.now() + this.config.DELIVERY_FAST_PATH_WAIT;
    const data = parsedEventData(inbound.payload);
    // Field by field, not a spread: a spread of the message's object was a tenth of this function's CPU.
    const event: StoredEvent = {
      id: inbound.id,
      clinicId: inbound.clinicId,
      eventName: inbound.eventName,
      entityId: (data && entityIdOf({ eventName: inbound.eventName, data })) ?? null,
      payload: inbound.payload,
      receivedAt: inbound.receivedAt,
      traceParent: inbound.traceParent,
      streamSeq: inbound.streamSeq,
      data,
    };
    const lookup = await this.subscribers.findSubscribersFor(event.clinicId, event.eventName).catch((err) => {
      admitted();
      throw new FanOutStepFailed('subscriber lookup', err);
    });
    if (lookup.unreadable.length > 0 || this.unreadableLogged.has(event.clinicId)) this.noteUnreadable(event.clinicId, lookup);
    const jobs: DeliveryJob[] = lookup.targets.map((subscriber) => ({ deliveryId: newRowId(), attemptCount: 0, event, subscriber }));

    const fastPath = fresh && this.postgresStores();
    const direct = jobs.filter((j) => fastPath && j.subscriber.enabled && !j.subscriber.ordered);
    if (direct.length > 0) this.width = Math.min(direct.length, this.dispatcher.capacity);
    const admissions = new Map<DeliveryJob, Admission>();
    try {
      (await this.dispatcher.admitNew(direct, deadline)).forEach((a, i) => admissions.set(direct[i]!, a));
    } catch (err) {
      throw new FanOutStepFailed('flow control', err);
    } finally {
      admitted();
    }
    // Plain loops on this path: flatMap over spread iterators was a third of this function's CPU per delivery.
    const started: Array<Promise<AttemptReport>> = [];
    const done = new Map<DeliveryJob, AttemptReport>();
    for (const [job, a] of admissions) {
      if (a.kind !== 'started') continue;
      started.push(a.finished);
      void a.finished.then((r) => done.set(job, r), () => undefined);
    }
    if (started.length > 0) await waitAtMost(Promise.allSettled(started), deadline - performance.now());

    // A 410 Gone disables its subscriber before the delivery is stored parked: whoever sees the one sees the other.
    const gone: DeliveryJob[] = [];
    for (const [job, r] of done) if (r.resolution.kind === 'parked') gone.push(job);
    if (gone.length > 0) {
      await Promise.all(
        gone.map((job) =>
          this.dispatcher.disableGone(job).catch((err) => {
            this.log.warn({ err: { message: (err as Error).message }, subscriber_id: job.subscriber.id }, 'disabling a subscriber that answered 410 failed');
          }),
        ),
      );
    }
    // One record per job, in the same order (afterStore pairs them by index), then the unreadable subscribers'.
    const record: NewDelivery[] = jobs.map((job) => ({ id: job.deliveryId, subscriberId: job.subscriber.id, state: this.stateOf(job, admissions.get(job), done.get(job)) }));
    for (const u of lookup.unreadable) record.push({ id: newRowId(), subscriberId: u.id, state: u.enabled ? { kind: 'unreadable', error: u.error } : { kind: 'parked' } });
    const span = startBatchMember('store event', { 'switchyard.event_id': event.id });
    storing();
    const created = await endBatchMember(span, this.stored({ event, deliveries: record }, span));
    this.afterStore(event, jobs, record, admissions, created);
    return { created, deliveries: created ? record.length : 0 };
  }

  /**
   * Logs each subscriber whose secrets cannot be read once (its ids and the error, which names the key id,
   * never a secret), not once per event, and again only if the error changes or after it was read again.
   */
  private noteUnreadable(clinicId: string, lookup: SubscriberLookup): void {
    const noted = this.unreadableLogged.get(clinicId) ?? new Map<string, string>();
    for (const t of lookup.targets) noted.delete(t.id); // read again
    for (const u of lookup.unreadable) {
      if (!u.enabled || noted.get(u.id) === u.error) continue;
      noted.set(u.id, u.error);
      this.log.error({ clinic_id: u.clinicId, subscriber_id: u.id, err: { message: u.error } }, UNREADABLE_SECRET_LOG);
    }
    if (noted.size > 0) this.unreadableLogged.set(clinicId, noted);
    else this.unreadableLogged.delete(clinicId);
  }

  /** Whether Postgres is storing events: no store failed since the last that succeeded, and none hangs. */
  private postgresStores(): boolean {
    if (this.storeFailing) return false;
    for (const { since } of this.storesUnderWay) return performance.now() - since <= STORE_STALLED_MS;
    return true;
  }

  private async stored(record: InboundRecord, span: Span | undefined): Promise<boolean> {
    const underWay = { since: performance.now() };
    this.storesUnderWay.add(underWay);
    try {
      const created = await this.store.submit({ record, span });
      if (this.storeFailing) this.log.info('storing events works again; new deliveries are attempted straight from their messages');
      this.storeFailing = false;
      return created;
    } catch (err) {
      if (!this.storeFailing) this.log.warn({ err: { message: (err as Error).message } }, 'storing events failed; new deliveries are stored before they are attempted until a store succeeds');
      this.storeFailing = true;
      throw new FanOutStepFailed('store', err);
    } finally {
      this.storesUnderWay.delete(underWay);
    }
  }

  private stateOf(job: DeliveryJob, admission: Admission | undefined, report: AttemptReport | undefined): NewDelivery['state'] {
    if (!job.subscriber.enabled) return { kind: 'parked' };
    if (report) return { kind: 'attempted', attempt: report.attempt, resolution: report.resolution };
    if (admission?.kind === 'started') return { kind: 'attempting', leaseMs: this.config.DELIVERY_LEASE };
    return { kind: 'queued', delayMs: admission?.kind === 'queued' ? admission.delayMs : 0 };
  }

  /** Once the event is committed: record attempts still under way, wake the scheduler for what was queued. */
  private afterStore(event: StoredEvent, jobs: DeliveryJob[], record: NewDelivery[], admissions: Map<DeliveryJob, Admission>, created: boolean): void {
    const eventType = eventTypeLabel(event.eventName, KNOWN_EVENT_NAMES);
    this.metrics.fanoutEvents.inc({ event_type: eventType, result: created ? 'stored' : 'duplicate' });
    if (!created) return;
    let queued = false;
    jobs.forEach((job, i) => {
      const state = record[i]!.state;
      const firstAttempt = state.kind === 'parked' ? 'parked' : state.kind === 'queued' ? 'queued' : 'direct';
      this.metrics.deliveriesCreated.inc({ event_type: eventType, first_attempt: firstAttempt });
      const admission = admissions.get(job);
      if (state.kind === 'attempting' && admission?.kind === 'started') this.dispatcher.recordWhenDone(job, admission.finished);
      if (state.kind === 'attempted' && state.resolution.kind === 'retry') this.scheduler.noteDue(state.resolution.delayMs);
      if (state.kind === 'queued' && state.delayMs > 0) this.scheduler.noteDue(state.delayMs);
      if (state.kind === 'queued' && state.delayMs === 0) {
        queued = true;
        if (job.subscriber.ordered) this.scheduler.noteOrdered(event.streamSeq);
      }
    });
    // The unreadable subscribers' deliveries, after the jobs': dead letters, or parked (disabled).
    for (let i = jobs.length; i < record.length; i++) {
      const dead = record[i]!.state.kind === 'unreadable';
      this.metrics.deliveriesCreated.inc({ event_type: eventType, first_attempt: dead ? 'dead' : 'parked' });
      if (dead) this.metrics.deadLetters.inc({ event_type: eventType });
    }
    if (queued) this.scheduler.wake();
  }
}

/** Whether storing the event queues deliveries, which then wait for its commit before they can be attempted. */
function queuesWork(record: InboundRecord): boolean {
  for (const d of record.deliveries) if (d.state.kind === 'queued') return true;
  return false;
}

/** The payload's `event_data`, parsed once for the entity id and the CloudEvents rendering of every delivery. */
function parsedEventData(payload: string): Record<string, unknown> | undefined {
  try {
    return eventDataOf(payload);
  } catch {
    // Ingress validated the body; an unparseable one here is stored as is (its CloudEvents rendering fails).
    return undefined;
  }
}

function waitAtMost(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}
