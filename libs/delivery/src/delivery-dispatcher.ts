import type { Logger } from 'pino';
import { PendingWork } from '@switchyard/batching';
import type { DeliveryJob, DeliveryRepository } from '@switchyard/persistence';
import type { Metrics } from '@switchyard/observability';
import { AttemptReport, AttemptRunner } from './attempt-runner';
import { FlowControl, SlotTicket } from './flow-control';
import { WaitQueue } from './wait-queue';

export interface DispatcherLimits {
  /** Attempts under way at once in this process. */
  concurrency: number;
  /** Attempts under way at once in this process for one clinic, so one clinic cannot take them all. */
  perClinic: number;
}

/** The right to run one attempt now: an in-flight slot of its subscriber and a place in this process. */
export interface RunPermit {
  ticket: SlotTicket;
  clinicId: string;
  released: boolean;
}

/** What became of a new delivery offered for an attempt straight away. */
export type Admission =
  | { kind: 'started'; finished: Promise<AttemptReport> }
  /** Left to the scheduler, due after `delayMs`. */
  | { kind: 'queued'; delayMs: number };

/**
 * Runs delivery attempts within the limits every replica shares and this process's own: an attempt starts
 * only on an in-flight slot of its subscriber held by this process (FlowControl: at most `max_in_flight`
 * open requests across replicas), with a rate token when the subscriber has a rate limit, and within this
 * process's `concurrency` and per-clinic share. New deliveries are offered straight from fan-out
 * (`admitNew`); queued ones come from the scheduler already leased (`reserve` + `runLeased`).
 */
export class DeliveryDispatcher {
  private total = 0;
  private readonly byClinic = new Map<string, number>();
  /** Attempts under way whose rows are stored `delivering` by this process (their leases are renewed). */
  private readonly leased = new Set<string>();
  /** Attempts under way, and records of attempts (see drain). */
  private readonly running = new PendingWork();
  /** Cleared when the process stops: no new delivery's first attempt starts (see stopAdmitting). */
  private admitting = true;
  /** Cleared once shutdown's drain is over: an attempt that ends later is not written down (see drain). */
  private recording = true;
  /** New deliveries waiting for a place in this process (it is at DELIVERY_CONCURRENCY, or their clinic at its share). */
  private readonly places = new WaitQueue<string, true>();

  /**
   * Subscribers with deliveries waiting in the queue: a new delivery to them joins the queue instead of
   * overtaking. Set when one is queued; cleared by the scheduler once a poll takes all of its due work.
   */
  readonly waiting = new Set<string>();
  private readonly onCapacity: Array<() => void> = [];
  private onRetry: (delayMs: number) => void = () => undefined;

  constructor(
    private readonly flow: FlowControl,
    private readonly runner: AttemptRunner,
    private readonly repo: DeliveryRepository,
    private readonly limits: DispatcherLimits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Called whenever an attempt ends and its room could take queued work (the scheduler's wake-up, fan-out's intake). */
  whenCapacityFrees(listener: () => void): void {
    this.onCapacity.push(listener);
  }

  /** Tells the listeners that room may be free (the scheduler took what it was owed, or an attempt ended). */
  capacityMayBeFree(): void {
    for (const listener of this.onCapacity) listener();
  }

  /** Called with the delay of every retry this process schedules (so the scheduler looks by then). */
  whenRetryScheduled(listener: (delayMs: number) => void): void {
    this.onRetry = listener;
  }

  /** Places free in this process for the clinic (the smaller of its share and the process's). */
  room(clinicId: string): number {
    return Math.min(this.free, this.share(clinicId));
  }

  /** Places the clinic's own share leaves it, however full the process is. */
  share(clinicId: string): number {
    return Math.max(0, this.limits.perClinic - (this.byClinic.get(clinicId) ?? 0));
  }

  /** Places free in this process, whatever the clinic. */
  get free(): number {
    return Math.max(0, this.limits.concurrency - this.total);
  }

  /** Attempts this process runs at once (DELIVERY_CONCURRENCY). */
  get capacity(): number {
    return this.limits.concurrency;
  }

  /**
   * Starts the first attempt of new deliveries as soon as a slot, a place and a token allow, waiting for
   * them (first come, first served) until `deadline` (performance.now() clock); what cannot start by then
   * is queued, and so is every delivery to a subscriber with queued work. The slots a batch needs beyond
   * those held idle are asked for in one statement for everything offered in the same turn. Each delivery
   * starts as soon as it has its own slot and place: one that waits for a place holds nothing the others
   * of its event need. (They used to start together once all were admitted, so those that had a place kept
   * it unused while the last waited for one: with fewer free places than an event has deliveries, nothing
   * freed one, and all of them waited out the fast-path wait.) One that needs no wait starts before this
   * returns its promise (see permitNow).
   */
  async admitNew(jobs: DeliveryJob[], deadline: number): Promise<Admission[]> {
    const out: Admission[] = jobs.map(() => ({ kind: 'queued', delayMs: 0 }));
    if (!this.admitting) return out;
    // Most of a backlog's deliveries find an idle slot of their subscriber and a place here: they start now, in
    // this turn, without the steps below (a promise for each; those steps were ~8 % of a draining fan-out's CPU
    // per delivery, bench/RESULTS.md, twenty-seventh round). The others (their indexes) take the steps.
    const rest: number[] = [];
    jobs.forEach((job, i) => {
      const permit = this.permitNow(job);
      if (permit) out[i] = { kind: 'started', finished: this.start(job, permit) };
      else rest.push(i);
    });
    if (rest.length === 0) return out;
    const wanted = new Map<string, number>();
    for (const i of rest) {
      const sid = jobs[i]!.subscriber.id;
      if (!this.waiting.has(sid)) wanted.set(sid, (wanted.get(sid) ?? 0) + 1);
    }
    await Promise.all([...wanted].map(([sid, n]) => this.flow.acquire(sid, n - this.flow.idle(sid))));
    await Promise.all(
      rest.map(async (i) => {
        const job = jobs[i]!;
        if (this.waiting.has(job.subscriber.id)) return;
        const permit = await this.admitOne(job, deadline);
        if (!permit) return;
        const rate = job.subscriber.rateLimitPerSecond;
        if (rate) {
          const { granted, retryInMs } = await this.flow.tokens(job.subscriber.id, 1, rate);
          if (granted === 0) {
            this.release(permit);
            out[i] = { kind: 'queued', delayMs: retryInMs[0]! };
            return;
          }
        }
        // Checked last: the stop may have begun while this waited for its slot, its place or its token.
        if (!this.admitting) {
          this.release(permit);
          return;
        }
        out[i] = { kind: 'started', finished: this.start(job, permit) };
      }),
    );
    return out;
  }

  /**
   * A permit for a new delivery that can start without waiting for anything: its subscriber has no queued work
   * and no rate limit (a token is a statement), an idle slot held here, and its clinic a place (reserveOne).
   * First, for every new delivery to a subscriber without queued work, the slots past a lowered limit are
   * retired (no statement: the cached subscriber's limit).
   */
  private permitNow(job: DeliveryJob): RunPermit | null {
    const sid = job.subscriber.id;
    if (this.waiting.has(sid)) return null;
    this.flow.applyLimit(sid, job.subscriber.maxInFlight);
    return job.subscriber.rateLimitPerSecond ? null : this.reserveOne(sid, job.event.clinicId);
  }

  /** A slot of the job's subscriber and a place in this process, waited for until `deadline`; null if either is not there by then. */
  private async admitOne(job: DeliveryJob, deadline: number): Promise<RunPermit | null> {
    const sid = job.subscriber.id;
    // Once the stop has begun no wait starts (stopAdmitting ended those under way).
    if (!this.admitting) return null;
    const ticket = await this.flow.waitFor(sid, deadline);
    if (!ticket) {
      // No slot of it here: another replica holds them all (the stored delivery is announced to it), or this
      // process's are busy past the deadline (the subscriber is behind: queue behind it from now on).
      if (this.admitting && this.flow.holds(sid) > 0) this.waiting.add(sid);
      return null;
    }
    if (!(await this.place(job.event.clinicId, deadline))) {
      this.flow.give(ticket);
      return null;
    }
    return { ticket, clinicId: job.event.clinicId, released: false };
  }

  /** Takes a place in this process for an attempt of the clinic, waiting for one until `deadline`. */
  private async place(clinicId: string, deadline: number): Promise<boolean> {
    if (this.room(clinicId) > 0) {
      this.occupyPlace(clinicId);
      return true;
    }
    if (!this.admitting) return false;
    return (await this.places.wait(clinicId, deadline)) === true;
  }

  private occupyPlace(clinicId: string): void {
    this.total++;
    this.byClinic.set(clinicId, (this.byClinic.get(clinicId) ?? 0) + 1);
  }

  /** Frees a place; hands it straight to the longest-waiting attempt whose clinic has room. */
  private freePlace(clinicId: string): void {
    this.total--;
    const n = (this.byClinic.get(clinicId) ?? 1) - 1;
    if (n <= 0) this.byClinic.delete(clinicId);
    else this.byClinic.set(clinicId, n);
    let handed: string | undefined;
    if (this.places.serve(true, (c) => this.room(c) > 0 && ((handed = c), true))) this.occupyPlace(handed!);
  }

  /** Permits for up to `n` attempts of a subscriber, on the idle slots this process holds for it. */
  reserve(subscriberId: string, clinicId: string, n: number): RunPermit[] {
    const permits: RunPermit[] = [];
    for (let k = 0; k < n; k++) {
      const permit = this.reserveOne(subscriberId, clinicId);
      if (!permit) break;
      permits.push(permit);
    }
    return permits;
  }

  private reserveOne(subscriberId: string, clinicId: string): RunPermit | null {
    if (this.room(clinicId) <= 0) return null;
    const ticket = this.flow.take(subscriberId);
    if (!ticket) return null;
    this.occupyPlace(clinicId);
    return { ticket, clinicId, released: false };
  }

  /** Gives a permit back: its subscriber's slot and its place in this process, each to whoever waits for it first. */
  release(permit: RunPermit): void {
    if (permit.released) return;
    permit.released = true;
    this.flow.give(permit.ticket);
    this.freePlace(permit.clinicId);
    this.capacityMayBeFree();
  }

  /** Runs the attempt of a delivery leased by the scheduler, on its permit, and records it. */
  runLeased(job: DeliveryJob, permit: RunPermit): void {
    this.recordWhenDone(job, this.start(job, permit));
  }

  /**
   * Records an attempt once it is over, for a delivery stored `delivering` (leased, or stored while its
   * first attempt was still under way); renews its lease meanwhile.
   */
  recordWhenDone(job: DeliveryJob, finished: Promise<AttemptReport>): void {
    this.leased.add(job.deliveryId);
    const recorded = finished
      .then((report) => (this.recording ? this.record(job, report) : undefined))
      .catch((err) => this.log.error({ err, delivery_id: job.deliveryId }, 'recording an attempt failed; the delivery is retried when its lease runs out'))
      .finally(() => this.leased.delete(job.deliveryId));
    this.running.track(recorded);
  }

  /**
   * Writes an attempt down; for a 410 Gone, first disables its subscriber (its waiting deliveries are
   * parked), so a delivery is never seen parked beside a subscriber still enabled.
   */
  async record(job: DeliveryJob, report: AttemptReport): Promise<void> {
    if (report.resolution.kind === 'parked') await this.disableGone(job);
    await this.repo.recordAttempt({ ...report.attempt, clinicId: job.event.clinicId, resolution: report.resolution });
    if (report.resolution.kind === 'retry') this.onRetry(report.resolution.delayMs);
  }

  /** A subscriber that answered 410 Gone is disabled, its waiting deliveries parked until it is enabled again. */
  async disableGone(job: DeliveryJob): Promise<void> {
    if (await this.repo.disableSubscriber(job.subscriber.clinicId, job.subscriber.id, 'answered 410 Gone')) {
      this.metrics.subscribersDisabled.inc({ reason: 'gone' });
    }
  }

  /** Deliveries this process is attempting whose stored leases must be kept alive. */
  leasedDeliveries(): string[] {
    return [...this.leased];
  }

  /**
   * Shutdown, as it begins: new deliveries start no attempt from now on (`admitNew` queues them), so the next
   * replica attempts them. Those waiting for a slot or a place stop waiting now and are queued too: they
   * waited for an attempt here to end (up to its timeout) or for DELIVERY_FAST_PATH_WAIT to pass, and their
   * events' messages with them. Leased work still runs.
   */
  stopAdmitting(): void {
    this.admitting = false;
    this.places.clear();
    this.flow.endWaits();
  }

  /** Attempts and records under way. */
  get underWay(): number {
    return this.running.size;
  }

  /**
   * Shutdown, once nothing new can start: waits until no attempt and no record of one is under way —
   * those that started after this was called included — or until `deadline` (performance.now() clock);
   * whether it got there. From then on nothing is written: an attempt still under way is not recorded
   * (its delivery, stored `delivering`, is attempted again when its lease runs out).
   */
  async drain(deadline: number): Promise<boolean> {
    const drained = await this.running.settled(deadline);
    this.recording = false;
    return drained;
  }

  private start(job: DeliveryJob, permit: RunPermit): Promise<AttemptReport> {
    this.metrics.deliveriesInFlight.inc();
    return this.running.track(
      this.runner.run(job, permit.ticket.lost, () => {
        this.metrics.deliveriesInFlight.dec();
        this.release(permit);
      }),
    );
  }
}
