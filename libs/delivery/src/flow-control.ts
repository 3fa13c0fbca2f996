import { MicroBatcher, PendingWork, withTimeout } from '@switchyard/batching';
import type { DeliveryFlowRepository, SlotKey, TokenGrant } from '@switchyard/persistence';
import { Cancellation } from './cancellation';
import { WaitQueue } from './wait-queue';

export interface FlowControlOptions {
  /** This process, as it appears in `delivery_slots.holder`. */
  holder: string;
  /** How long a slot is ours after each acquire or renewal; renewed three times per lease while held. */
  leaseMs: number;
  /** `max_in_flight` of subscribers that set none. */
  defaultMaxInFlight: number;
  /** An idle slot is given back after this long unused. */
  lingerMs: number;
  now?: () => number;
}

/**
 * How long before its lease runs out (on our clock) a slot whose renewals do not answer is given up: our clock
 * starts the lease when the granting statement is sent, Postgres's a little later, and a timer may fire late.
 */
const EXPIRY_MARGIN_MS = 50;

/** The shortest wait before a renewal. */
const MIN_RENEWAL_GAP_MS = 50;

/** How long a stop waits for the renewals under way, and then for the hand-back of every slot. */
const STOP_WAIT_MS = 1_000;

/** A slot this process holds: the right to have one request open to its subscriber. */
interface HeldSlot {
  slot: number;
  /** Our lease, on our own clock: measured from when the statement that granted or renewed it was sent. */
  validUntil: number;
  busy: boolean;
  idleSince: number;
  /**
   * The subscriber no longer has this slot (disabled, deleted, its limit lowered): it carries no new
   * request; the one on it finishes and then it is given back.
   */
  retired: boolean;
  /** Cancelled when the slot is lost: what calls off every request made on it (one per held slot, not per request). */
  lost: Cancellation;
}

/** A slot in use: give it back with `FlowControl.give`. `lost` is cancelled if the slot is lost meanwhile. */
export interface SlotTicket {
  subscriberId: string;
  slot: number;
  lost: Cancellation;
}

/**
 * This process's share of the in-flight slots and rate tokens that Postgres hands out to every fan-out
 * replica (DeliveryFlowRepository). Slots are taken in batches (every request for slots made in one turn
 * of the event loop shares one statement), kept while they are used, renewed three times per lease, and
 * given back after `lingerMs` idle. A request runs only on a slot whose lease is ours: when a renewal
 * loses a slot, or cannot reach Postgres before the lease runs out, the request on it is aborted, so no
 * request is ever open on a slot another replica may hold. A slot the subscriber no longer has (disabled,
 * deleted, its limit lowered) is retired instead: its lease is still renewed, so nobody else takes it, and
 * the request on it finishes and is recorded as it ends (aborted, it would be recorded as a network error
 * although the subscriber may have received it, and sent again later); then the slot is given back.
 */
export class FlowControl {
  private readonly held = new Map<string, HeldSlot[]>();
  /** Requests waiting for a slot of a subscriber this process holds: a freed slot goes to them first. */
  private readonly waiting = new Map<string, WaitQueue<null, SlotTicket>>();
  private renewTimer?: NodeJS.Timeout;
  private lingerTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Renewals and hand-backs under way (stop waits for them before it gives every slot back). */
  private readonly writes = new PendingWork();
  private readonly now: () => number;
  private readonly acquirer: MicroBatcher<{ subscriberId: string; want: number }, void>;
  private readonly tokenTaker: MicroBatcher<{ subscriberId: string; want: number; rate: number }, { granted: number; grant: TokenGrant }>;

  constructor(
    private readonly repo: DeliveryFlowRepository,
    private readonly options: FlowControlOptions,
    private readonly onError: (err: unknown, what: string) => void,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.acquirer = new MicroBatcher((batch) => this.acquireBatch(batch), 512, 2);
    this.tokenTaker = new MicroBatcher((batch) => this.takeTokenBatch(batch), 512, 2);
  }

  /** Idle slots held for the subscriber (the scheduler leases work for them before taking more). */
  idle(subscriberId: string): number {
    return this.held.get(subscriberId)?.filter((s) => !s.busy && !s.retired).length ?? 0;
  }

  /** Slots held for the subscriber that may carry requests, busy or idle. */
  holds(subscriberId: string): number {
    return this.held.get(subscriberId)?.filter((s) => !s.retired).length ?? 0;
  }

  /**
   * The subscriber's in-flight limit as the caller just read it (null: the default): the slots held at or
   * past it carry no new request from now on — retired at once (an idle one given back), not at their next
   * renewal, up to DELIVERY_LEASE ÷ 3 later, while they kept taking requests beyond a lowered limit. The
   * renewal still has the last word: a slot the subscriber has again (its limit raised) goes on.
   */
  applyLimit(subscriberId: string, maxInFlight: number | null): void {
    const slots = this.held.get(subscriberId);
    if (!slots) return;
    const limit = maxInFlight ?? this.options.defaultMaxInFlight;
    let back: SlotKey[] | undefined;
    for (const s of slots) {
      if (s.slot < limit || s.retired) continue;
      s.retired = true;
      if (s.busy) continue;
      this.drop(subscriberId, s);
      (back ??= []).push({ subscriberId, slot: s.slot });
    }
    if (back) this.giveBack(back);
  }

  /** Takes an idle slot of the subscriber for one request, or null. */
  take(subscriberId: string): SlotTicket | null {
    const now = this.now();
    const slot = this.held.get(subscriberId)?.find((s) => !s.busy && !s.retired && s.validUntil > now);
    return slot ? this.occupy(subscriberId, slot) : null;
  }

  /**
   * Takes an idle slot, or waits (first come, first served) for one of the subscriber's slots this process
   * holds to come free, until `deadline` (on `now()`'s clock); null then.
   */
  async waitFor(subscriberId: string, deadline: number): Promise<SlotTicket | null> {
    const ticket = this.take(subscriberId);
    if (ticket || this.holds(subscriberId) === 0) return ticket;
    let queue = this.waiting.get(subscriberId);
    if (!queue) this.waiting.set(subscriberId, (queue = new WaitQueue(this.now)));
    const got = await queue.wait(null, deadline);
    if (queue.length === 0 && this.waiting.get(subscriberId) === queue) this.waiting.delete(subscriberId);
    return got;
  }

  /** Answers every request waiting for a slot null now (the process starts no more attempts). */
  endWaits(): void {
    for (const queue of this.waiting.values()) queue.clear();
  }

  /** Gives a slot back after its request: to the next request waiting for it, else it stays held, idle. */
  give(ticket: SlotTicket): void {
    const slot = this.held.get(ticket.subscriberId)?.find((s) => s.slot === ticket.slot);
    if (!slot) return; // lost meanwhile
    slot.busy = false;
    slot.idleSince = this.now();
    if (slot.retired) {
      this.drop(ticket.subscriberId, slot);
      this.giveBack([{ subscriberId: ticket.subscriberId, slot: slot.slot }]);
      return;
    }
    if (!this.handOver(ticket.subscriberId, slot)) this.scheduleLinger();
  }

  private occupy(subscriberId: string, slot: HeldSlot): SlotTicket {
    slot.busy = true;
    return { subscriberId, slot: slot.slot, lost: slot.lost };
  }

  /** Hands an idle slot to a request waiting for one; whether one took it. */
  private handOver(subscriberId: string, slot: HeldSlot): boolean {
    const queue = this.waiting.get(subscriberId);
    if (!queue || queue.length === 0 || slot.validUntil <= this.now()) return false;
    const ticket = this.occupy(subscriberId, slot);
    if (queue.serve(ticket)) return true;
    slot.busy = false;
    return false;
  }

  /** Asks Postgres for up to `want` more slots of the subscriber; they are held idle once this resolves. */
  async acquire(subscriberId: string, want: number): Promise<void> {
    if (want > 0 && !this.stopped) await this.acquirer.submit({ subscriberId, want });
  }

  /**
   * Takes up to `want` rate tokens of a subscriber limited to `rate` per second; for each request not
   * granted one, in how many ms a token will be there (the first, then one interval apart). Never rejects:
   * when Postgres cannot say, nothing is granted and the requests try again one interval apart.
   */
  async tokens(subscriberId: string, want: number, rate: number): Promise<{ granted: number; retryInMs: number[] }> {
    let granted = 0;
    let next: Pick<TokenGrant, 'nextInMs' | 'intervalMs'> = { nextInMs: 1000 / rate, intervalMs: 1000 / rate };
    try {
      const taken = await this.tokenTaker.submit({ subscriberId, want, rate });
      granted = taken.granted;
      next = taken.grant;
    } catch (err) {
      this.onError(err, 'taking rate tokens');
    }
    return { granted, retryInMs: Array.from({ length: want - granted }, (_, j) => Math.ceil(next.nextInMs + j * next.intervalMs)) };
  }

  start(): void {
    this.stopped = false;
  }

  /**
   * Stops renewing and gives every slot back, once the renewals and hand-backs under way are over (waited
   * for up to STOP_WAIT_MS, and the hand-back too: against a Postgres that stopped answering, the slots are
   * left to run out their leases rather than holding up the stop). Requests under way have normally ended by
   * then (shutdown drains them first); one still open (the drain ran out) is called off, as on a lost slot: a
   * slot given back may be another replica's at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.lingerTimer);
    this.renewTimer = this.lingerTimer = undefined;
    for (const slots of this.held.values()) for (const s of slots) s.lost.cancel();
    this.held.clear();
    this.endWaits();
    await this.writes.settled(performance.now() + STOP_WAIT_MS);
    await withTimeout(this.repo.release(this.options.holder, null), STOP_WAIT_MS).catch((err) => this.onError(err, 'giving back in-flight slots'));
  }

  private async acquireBatch(batch: Array<{ subscriberId: string; want: number }>): Promise<void[]> {
    const wants = new Map<string, number>();
    for (const b of batch) wants.set(b.subscriberId, (wants.get(b.subscriberId) ?? 0) + b.want);
    const sent = this.now();
    const granted = await this.repo.acquire(
      this.options.holder,
      [...wants].map(([subscriberId, want]) => ({ subscriberId, want })),
      this.options.defaultMaxInFlight,
      this.options.leaseMs,
    );
    if (this.stopped) {
      await this.repo.release(this.options.holder, granted);
      return batch.map(() => undefined);
    }
    for (const g of granted) {
      const slot: HeldSlot = { slot: g.slot, validUntil: sent + this.options.leaseMs, busy: false, idleSince: this.now(), retired: false, lost: new Cancellation() };
      const slots = this.held.get(g.subscriberId);
      if (slots) slots.push(slot);
      else this.held.set(g.subscriberId, [slot]);
      this.handOver(g.subscriberId, slot);
    }
    if (granted.length > 0) {
      this.scheduleRenewal();
      this.scheduleLinger();
    }
    return batch.map(() => undefined);
  }

  private async takeTokenBatch(batch: Array<{ subscriberId: string; want: number; rate: number }>) {
    const wants = new Map<string, { want: number; rate: number }>();
    for (const b of batch) {
      const w = wants.get(b.subscriberId);
      wants.set(b.subscriberId, { want: (w?.want ?? 0) + b.want, rate: b.rate });
    }
    const grants = await this.repo.takeTokens([...wants].map(([subscriberId, w]) => ({ subscriberId, ...w })));
    // The tokens granted to a subscriber go to its requests in the order they were made.
    const left = new Map([...grants].map(([id, g]) => [id, g.granted]));
    return batch.map((b) => {
      const grant = grants.get(b.subscriberId) ?? { granted: 0, nextInMs: 1000 / b.rate, intervalMs: 1000 / b.rate };
      const granted = Math.min(b.want, left.get(b.subscriberId) ?? 0);
      left.set(b.subscriberId, (left.get(b.subscriberId) ?? 0) - granted);
      return { granted, grant };
    });
  }

  private scheduleRenewal(delayMs = this.options.leaseMs / 3): void {
    if (this.renewTimer || this.stopped) return;
    this.renewTimer = setTimeout(() => {
      this.renewTimer = undefined;
      void this.writes.track(this.renew());
    }, Math.max(MIN_RENEWAL_GAP_MS, Math.floor(delayMs)));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const keys: SlotKey[] = [];
    // The slots asked about, as objects: one given back and taken again while the renewal runs is a new
    // object with the same key, and has a fresh lease of its own (by key, the renewal's answer from before
    // the hand-back would call off the request on it).
    const asked = new Set<HeldSlot>();
    let expiring = Infinity;
    for (const [subscriberId, slots] of this.held) {
      for (const s of slots) {
        keys.push({ subscriberId, slot: s.slot });
        asked.add(s);
        expiring = Math.min(expiring, s.validUntil);
      }
    }
    if (keys.length === 0) return;
    const sent = this.now();
    try {
      // A renewal that hangs (Postgres unreachable without an error) counts as failed after a third of the lease,
      // or when the earliest lease it asks about runs out, if sooner: the request on that slot is called off
      // then, not a third of a lease after another replica may have taken the slot.
      const renewed = await withTimeout(
        this.repo.renew(this.options.holder, keys, this.options.defaultMaxInFlight, this.options.leaseMs),
        Math.max(1, Math.min(Math.max(50, this.options.leaseMs / 3), expiring - this.margin - sent)),
      );
      const kept = new Map(renewed.map((k) => [`${k.subscriberId}/${k.slot}`, k.retired]));
      const retired: SlotKey[] = [];
      for (const [subscriberId, slots] of this.held) {
        for (const s of [...slots]) {
          // Only the slots this renewal asked about: one taken while it ran has a fresh lease of its own.
          if (!asked.has(s)) continue;
          const retire = kept.get(`${subscriberId}/${s.slot}`);
          if (retire === undefined) {
            this.lose(subscriberId, s);
            continue;
          }
          s.validUntil = sent + this.options.leaseMs;
          // Retired while a request is on it: kept (and renewed) until that request ends. A slot the
          // subscriber has again by then (enabled again, its limit raised) simply goes on.
          s.retired = retire;
          if (retire && !s.busy) {
            this.drop(subscriberId, s);
            retired.push({ subscriberId, slot: s.slot });
          }
        }
      }
      this.giveBack(retired);
    } catch (err) {
      this.onError(err, 'renewing in-flight slots');
      // Postgres unreachable: a slot whose lease has run out on our clock may be someone else's now. Try
      // again before the next one runs out.
      const now = this.now();
      let earliest = Infinity;
      for (const [subscriberId, slots] of this.held) {
        for (const s of [...slots]) {
          // Lost too when no renewal could start in time (they are at least 50 ms apart; the timeout that
          // brought us here may also have fired a little before the lease's end).
          if (s.validUntil - this.margin - now < MIN_RENEWAL_GAP_MS) this.lose(subscriberId, s);
          else earliest = Math.min(earliest, s.validUntil - this.margin);
        }
      }
      // Halfway to the earliest lease's end, so that the renewal has the other half before it is given up on.
      if (this.held.size > 0) this.scheduleRenewal(Math.min(this.options.leaseMs / 3, (earliest - now) / 2));
      return;
    }
    if (this.held.size > 0) this.scheduleRenewal();
  }

  private get margin(): number {
    return Math.min(EXPIRY_MARGIN_MS, this.options.leaseMs / 20);
  }

  private lose(subscriberId: string, slot: HeldSlot): void {
    slot.lost.cancel();
    this.drop(subscriberId, slot);
  }

  private drop(subscriberId: string, slot: HeldSlot): void {
    const slots = this.held.get(subscriberId)?.filter((s) => s !== slot) ?? [];
    if (slots.length > 0) this.held.set(subscriberId, slots);
    else this.held.delete(subscriberId);
  }

  /** Gives slots back now (retired ones, idle): a failure leaves them to run out their lease. */
  private giveBack(slots: SlotKey[], what = 'giving back retired slots'): void {
    if (slots.length > 0) void this.writes.track(this.repo.release(this.options.holder, slots).catch((err) => this.onError(err, what)));
  }

  private scheduleLinger(): void {
    if (this.lingerTimer || this.stopped) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.releaseIdle();
    }, this.options.lingerMs);
    this.lingerTimer.unref();
  }

  /** Gives back the slots idle for `lingerMs`; looks again while idle slots remain. */
  private releaseIdle(): void {
    const cutoff = this.now() - this.options.lingerMs;
    const released: SlotKey[] = [];
    let idleLeft = false;
    for (const [subscriberId, slots] of this.held) {
      const keep = slots.filter((s) => {
        if (s.busy) return true;
        if (s.idleSince <= cutoff) {
          released.push({ subscriberId, slot: s.slot });
          return false;
        }
        idleLeft = true;
        return true;
      });
      if (keep.length > 0) this.held.set(subscriberId, keep);
      else this.held.delete(subscriberId);
    }
    this.giveBack(released, 'giving back idle slots');
    if (idleLeft) this.scheduleLinger();
  }
}
