import type { Logger } from 'pino';
import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { PendingWork } from '@switchyard/batching';
import { KNOWN_EVENT_NAMES } from '@switchyard/contracts';
import type { DeliveryJob, DeliveryRepository, DueSubscriber, LeaseRequest, UnreadableDelivery } from '@switchyard/persistence';
import { Metrics, eventTypeLabel } from '@switchyard/observability';
import { DeliveryDispatcher, RunPermit } from './delivery-dispatcher';
import { FlowControl } from './flow-control';

export interface SchedulerOptions {
  /** How long a taken delivery stays ours; after a crash it is taken again once this runs out. */
  leaseMs: number;
  /** `max_in_flight` of subscribers that set none. */
  defaultMaxInFlight: number;
  /** Longest sleep while due-work announcements cannot be heard (the LISTEN connection is down). */
  pollIntervalMs: number;
  /** Longest sleep while they can: a missed announcement costs at most this. */
  idlePollMs: number;
}

/** What fan-out logs, at `error`, about deliveries it dead-letters because their subscriber's secret cannot be read. */
export const UNREADABLE_SECRET_LOG =
  "deliveries dead-lettered: their subscriber's signing secret cannot be read (is its key still in SECRETS_KEYS?); replay them once it is";

/** Subscribers looked at per poll (each gets at most its in-flight room). */
const DUE_SUBSCRIBERS_PER_POLL = 2_000;
/** How soon to look again while an ordered delivery of this process waits for earlier messages to be stored. */
const ORDERING_RECHECK_MS = 25;
/** How soon to look again when room frees while due work was left behind (not once per finished attempt). */
const BACKLOG_RECHECK_MS = 10;

/**
 * Finds queued deliveries that are due and hands them to the dispatcher: retries, deliveries queued behind
 * a busy subscriber, a crashed replica's expired leases, replays. Each poll takes, clinics in turn, as much
 * as this process's room and the subscribers' in-flight slots allow (one statement for the due
 * subscribers, one for their slots, one to lease). It sleeps until the next due time, an announcement
 * (`wake`: a replica queued work, or an operator replayed), or room freeing up while work waits; with
 * nothing to do it backs off to `idlePollMs`. Three times per lease it renews the leases of attempts under
 * way and frees those of replicas that stopped renewing.
 */
export class DeliveryScheduler {
  private timer?: NodeJS.Timeout;
  private reaper?: NodeJS.Timeout;
  private stopped = true;
  private polling = false;
  /** The poll and the lease renewal under way, if any (stop waits for them). */
  private readonly underWay = new PendingWork();
  private again = false;
  /** Whether the last poll left due work behind for lack of room (so freed room should poll). */
  private backlog = false;
  /**
   * Whether the last poll left due work behind because this process's places ran out (not a subscriber's
   * slots, not a clinic's share): new messages then wait (see `owedRoom`), so queued work is not starved.
   */
  private roomShort = false;
  /**
   * Rate-limited subscribers whose bucket had no token for a delivery this process leased, and when the next
   * one will be there (performance.now()): their due work is not leased before then (other replicas' takes only
   * push that time later). Leased anyway, each poll put it back at once and looked again straight after: a
   * deep backlog was leased and put back, row by row, hundreds of times a second.
   */
  private readonly noTokenUntil = new Map<string, number>();
  /** The highest stream sequence of an ordered delivery this process queued (see ORDERING_RECHECK_MS). */
  private orderedThrough = 0;
  /** How many times `noteOrdered` was called: a poll that began before the last call may not see its delivery. */
  private orderedNotes = 0;
  private listening = false;
  private idleMs: number;
  /** When the next poll is due (performance.now()). */
  private dueAt = Infinity;
  /** The earliest due time noted while a poll was running (performance.now()). */
  private hint = Infinity;

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly flow: FlowControl,
    /** Through which stream sequence every inbound message is stored (the fan-out consumer's ack floor), or null if unknown. */
    private readonly storedThrough: () => Promise<number | null>,
    private readonly options: SchedulerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.idleMs = options.pollIntervalMs;
    dispatcher.whenCapacityFrees(() => this.backlog && this.soon(BACKLOG_RECHECK_MS));
    dispatcher.whenRetryScheduled((delayMs) => this.noteDue(delayMs));
  }

  start(): void {
    this.stopped = false;
    this.flow.start();
    this.schedule(0);
    this.reaper = setInterval(() => void this.underWay.track(this.reap()), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.reaper.unref();
  }

  /**
   * Starts no poll and no lease renewal from now on, and waits (until `deadline`, performance.now() clock)
   * for one under way: what a poll under way leased is started on the dispatcher, whose drain waits for it.
   * The leases of attempts under way need no renewal meanwhile: renewed every third of DELIVERY_LEASE, each
   * has two thirds of it left, more than an attempt may last (at most half of it). The in-flight slots stay
   * held: they are given back once the attempts on them are over (FlowControl.stop).
   */
  async stop(deadline = Infinity): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.reaper);
    await this.underWay.settled(deadline);
  }

  /**
   * Whether due-work announcements are heard (sleeps may then be long). Once they stop being heard, it looks
   * at once: announcements may have gone unheard before the loss was noticed (a connection gone silent is
   * only noticed by its probe), and a sleep begun while listening could last DELIVERY_IDLE_POLL_INTERVAL.
   */
  setListening(listening: boolean): void {
    const lost = this.listening && !listening;
    this.listening = listening;
    if (!listening) this.idleMs = this.options.pollIntervalMs;
    if (lost) this.wake();
  }

  /** Look for due work now (work was queued or announced). */
  wake(): void {
    this.idleMs = this.options.pollIntervalMs;
    if (this.polling) this.again = true;
    else this.schedule(0);
  }

  /** Look within `delayMs` (room freed while due work waits), unless a poll is already that close. */
  private soon(delayMs: number): void {
    if (this.polling) this.again = true;
    else if (this.dueAt > performance.now() + delayMs) this.schedule(delayMs);
  }

  /** A delivery this process queued or scheduled falls due in `delayMs`: make sure to look by then. */
  noteDue(delayMs: number): void {
    const at = performance.now() + Math.max(0, delayMs) + 5;
    if (this.polling) this.hint = Math.min(this.hint, at);
    else if (at < this.dueAt) this.schedule(at - performance.now());
  }

  /** An ordered delivery with this stream sequence was queued: look again until earlier messages are stored. */
  noteOrdered(streamSeq: number | null): void {
    if (streamSeq === null) return;
    this.orderedThrough = Math.max(this.orderedThrough, streamSeq);
    this.orderedNotes++;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.dueAt = performance.now() + Math.max(0, delayMs);
    // Timers inherit the async context they are created in: the poller belongs to no request's trace.
    this.timer = context.with(ROOT_CONTEXT, () => setTimeout(() => void this.underWay.track(this.poll()), Math.max(0, delayMs)));
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) {
      this.again = true;
      return;
    }
    this.polling = true;
    let next = this.idleMs;
    const orderedNotes = this.orderedNotes;
    try {
      const { due, nextDueAt } = await this.repo.findDue(this.options.defaultMaxInFlight, DUE_SUBSCRIBERS_PER_POLL);
      // No ordered delivery is due: what this process queued has been leased (here, or by another replica while
      // this one found nothing due), so there is nothing to look again for every ORDERING_RECHECK_MS. (Only
      // the ack floor's passing cleared it, in a poll that leased ordered work: one that found none left this
      // process polling 40 times a second for good.) Not when one was queued after this poll began.
      if (orderedNotes === this.orderedNotes && !due.some((d) => d.ordered)) this.orderedThrough = 0;
      const found = await this.take(due);
      if (found) this.idleMs = this.options.pollIntervalMs;
      else if (this.listening) this.idleMs = Math.min(this.idleMs * 2, this.options.idlePollMs);
      next = this.idleMs;
      if (nextDueAt) next = Math.min(next, nextDueAt.getTime() - Date.now() + 5);
      if (this.orderedThrough > 0) next = Math.min(next, ORDERING_RECHECK_MS);
    } catch (err) {
      this.log.error({ err }, 'looking for due deliveries failed');
      next = this.options.pollIntervalMs;
    } finally {
      this.polling = false;
    }
    if (this.again) {
      this.again = false;
      next = 0;
    }
    next = Math.min(next, this.hint - performance.now());
    this.hint = Infinity;
    this.schedule(next);
  }

  /** Leases and starts what this process has room for; returns whether anything was due. */
  private async take(due: DueSubscriber[]): Promise<boolean> {
    const dueBySubscriber = new Map(due.map((d) => [d.subscriberId, d]));
    for (const sid of this.dispatcher.waiting) if (!dueBySubscriber.has(sid)) this.dispatcher.waiting.delete(sid);
    if (due.length === 0) {
      this.backlog = false;
      this.setRoomShort(false);
      return false;
    }
    // Clinics take turns (findDue interleaves them); each subscriber gets up to its due work, within room.
    const free = this.dispatcher.free;
    let room = free;
    const quotas: Array<{ d: DueSubscriber; want: number }> = [];
    const clinicPlanned = new Map<string, number>();
    let short = false;
    let roomShort = false;
    const now = performance.now();
    for (const d of due) {
      this.flow.applyLimit(d.subscriberId, d.maxInFlight);
      if (d.rateLimitPerSecond && this.noTokenUntil.has(d.subscriberId)) {
        // Its deferral's noteDue looks again when the token is there.
        if (this.noTokenUntil.get(d.subscriberId)! > now) continue;
        this.noTokenUntil.delete(d.subscriberId);
      }
      // The clinic's own share, not the process's room: while a backlog drained straight from the stream
      // takes every place, the room is 0 and due work must still be owed the next free places.
      const clinicShare = this.dispatcher.share(d.clinicId) - (clinicPlanned.get(d.clinicId) ?? 0);
      // A rate-limited subscriber is granted at most its bucket's capacity per take (one second's worth, at
      // least one): asked for more, it took places of its clinic's share only to put the leases back, and
      // with a deep backlog (always the clinic's oldest due work) it took the whole share every poll.
      const asks = d.rateLimitPerSecond ? Math.min(d.due, Math.max(1, Math.floor(d.rateLimitPerSecond))) : d.due;
      const want = Math.min(asks, clinicShare, room);
      if (want < d.due) short = true;
      if (room < Math.min(asks, clinicShare)) roomShort = true;
      if (want <= 0) continue;
      quotas.push({ d, want });
      room -= want;
      clinicPlanned.set(d.clinicId, (clinicPlanned.get(d.clinicId) ?? 0) + want);
    }
    await Promise.all(quotas.map(({ d, want }) => this.flow.acquire(d.subscriberId, want - this.flow.idle(d.subscriberId))));

    const permits = new Map<string, RunPermit[]>();
    const requests: LeaseRequest[] = [];
    for (const { d, want } of quotas) {
      const held = this.dispatcher.reserve(d.subscriberId, d.clinicId, want);
      if (held.length < want) short = true;
      if (held.length === 0) continue;
      permits.set(d.subscriberId, held);
      requests.push({ subscriberId: d.subscriberId, take: held.length, ordered: d.ordered });
    }
    const storedThrough = requests.some((r) => r.ordered) ? await this.storedThrough().catch(() => null) : null;
    if (storedThrough !== null && storedThrough >= this.orderedThrough) this.orderedThrough = 0;

    let jobs: DeliveryJob[] = [];
    try {
      jobs = await this.repo.lease(requests, storedThrough, this.options.leaseMs, (dead) => this.deadLettered(dead));
    } finally {
      const bySubscriber = new Map<string, DeliveryJob[]>();
      for (const job of jobs) {
        const list = bySubscriber.get(job.subscriber.id);
        if (list) list.push(job);
        else bySubscriber.set(job.subscriber.id, [job]);
      }
      // New work to a subscriber keeps queueing behind only while this poll leaves some of its due work in
      // the queue: it got all it asked for, and asked for less than was due. Once a poll takes everything
      // that was due, its next new delivery goes straight from the stream again. (Kept while every lease
      // came back full, the mark outlived the backlog for good: each new delivery, queued because of the
      // mark, was the one the next poll took in full, and a drain that had queued a few first attempts
      // sent a growing share of the rest through the queue at a quarter of its speed — bench/RESULTS.md.)
      for (const r of requests) {
        const got = bySubscriber.get(r.subscriberId)?.length ?? 0;
        const d = dueBySubscriber.get(r.subscriberId)!;
        if (got >= r.take && (r.take < d.due || d.more)) this.dispatcher.waiting.add(r.subscriberId);
        else this.dispatcher.waiting.delete(r.subscriberId);
        // More due than its in-flight limit let go, and some of it going now: a backlog too, so its attempts'
        // ends look again. (Not for a subscriber whose slots are all busy — one that hangs would have every
        // attempt ending anywhere poll Postgres for it.)
        if (got > 0 && d.more) short = true;
      }
      await Promise.all([...permits].map(([sid, held]) => this.run(bySubscriber.get(sid) ?? [], held)));
    }
    this.backlog = short;
    // Owed the next free places only while they get used: with room in hand and nothing leased (its slots held by
    // another replica, ordered work waiting for earlier messages), holding new messages back would stall intake
    // for work that cannot start, or that waits for those very messages.
    this.setRoomShort(roomShort && (free === 0 || jobs.length > 0));
    return true;
  }

  /** Leased deliveries the repository dead-lettered because their subscriber's secret cannot be read: an operator's to fix. */
  private deadLettered(dead: UnreadableDelivery[]): void {
    for (const d of dead) this.metrics.deadLetters.inc({ event_type: eventTypeLabel(d.eventName, KNOWN_EVENT_NAMES) });
    const subscribers = [...new Set(dead.map((d) => d.subscriberId))];
    this.log.error({ deliveries: dead.length, subscriber_ids: subscribers, err: { message: dead[0]!.error } }, UNREADABLE_SECRET_LOG);
  }

  /** Whether queued work is owed this process's next free places (its last poll found too little room for it). */
  get owedRoom(): boolean {
    return this.roomShort;
  }

  private setRoomShort(short: boolean): void {
    const was = this.roomShort;
    this.roomShort = short;
    if (was && !short) this.dispatcher.capacityMayBeFree();
  }

  /**
   * Starts the leased deliveries of one subscriber on its permits; gives back the permits left over. A
   * rate-limited subscriber's tokens are taken now, right before the requests go (taken before the lease,
   * a slow lease let them arrive bunched): a delivery without one is put back, due when a token will be there.
   */
  private async run(jobs: DeliveryJob[], held: RunPermit[]): Promise<void> {
    const rate = jobs[0]?.subscriber.rateLimitPerSecond;
    const { granted, retryInMs } = rate ? await this.flow.tokens(jobs[0]!.subscriber.id, jobs.length, rate) : { granted: jobs.length, retryInMs: [] };
    jobs.slice(0, granted).forEach((job) => this.dispatcher.runLeased(job, held.pop()!));
    held.forEach((p) => this.dispatcher.release(p));
    const deferred = jobs.slice(granted);
    if (deferred.length === 0) return;
    const deferrals = deferred.map((job, j) => ({ deliveryId: job.deliveryId, delayMs: retryInMs[j]! }));
    this.noTokenUntil.set(deferred[0]!.subscriber.id, performance.now() + deferrals[0]!.delayMs);
    await this.repo.defer(deferred[0]!.event.clinicId, deferrals).catch((err) => this.log.error({ err }, 'putting throttled deliveries back failed; their leases will run out'));
    this.noteDue(deferrals[0]!.delayMs);
  }

  private async reap(): Promise<void> {
    try {
      await this.repo.renewLeases(this.dispatcher.leasedDeliveries(), this.options.leaseMs);
      const released = await this.repo.releaseExpiredLeases();
      if (released > 0) {
        this.log.warn({ released }, 'deliveries whose lease ran out are due again');
        this.wake();
      }
      const unparked = await this.repo.unparkStranded();
      if (unparked > 0) {
        this.log.warn({ unparked }, 'deliveries stored parked while their subscriber was being enabled are due again');
        this.wake();
      }
      this.metrics.deliveriesDue.set(await this.repo.countDue());
    } catch (err) {
      this.log.error({ err }, 'renewing or releasing delivery leases, or unparking stranded deliveries, failed');
    }
  }
}
