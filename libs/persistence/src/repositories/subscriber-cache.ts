import { LookupCache } from '@switchyard/batching';
import { SUBSCRIBER_CHANGES_CHANNEL } from '../migrations';
import { PgListener, payloadFor } from '../pg-listener';
import { ClinicSubscriberRow, ReadTarget, SubscriberLookup, SubscriberRepository, addToLookup, takesEvent } from './subscriber.repository';

export interface SubscriberCacheOptions {
  /** The process's listening connection; the cache registers for subscriber changes on it. */
  listener: PgListener;
  /** The schema whose changes count (the trigger names it in each notification). */
  schema: string;
  /** Entries older than this are read again even without a notification: a safety net, not the mechanism. 0 turns the cache off. */
  ttlMs: number;
  maxEntries?: number;
}

/**
 * Each clinic's subscribers kept in memory between changes: fan-out needs them for every event, and a
 * round trip to Postgres per event is two process wake-ups on top of the query. Every change to the
 * `subscribers` table NOTIFYs the clinic at commit (trigger of migration 1764380000000), and this cache
 * forgets that clinic when the notification arrives. While the listening connection is down, every lookup
 * reads Postgres (never an answer that could be stale), and the cache starts empty again once it is back.
 */
export class SubscriberCache {
  private readonly entries: LookupCache<string, CachedSubscriber[]>;
  private readonly enabled: boolean;

  constructor(
    private readonly repo: SubscriberRepository,
    private readonly options: SubscriberCacheOptions,
  ) {
    this.entries = new LookupCache(options.ttlMs, options.maxEntries ?? 10_000);
    this.enabled = options.ttlMs > 0;
    if (!this.enabled) return;
    options.listener.on(SUBSCRIBER_CHANGES_CHANNEL, (payload) => this.changed(payload));
    // Whatever was cached before (or while) not listening may have missed a change.
    options.listener.watch(() => this.entries.clear());
  }

  /** Whether lookups are answered from memory now. */
  get isListening(): boolean {
    return this.enabled && this.options.listener.isListening;
  }

  /** The same answer as SubscriberRepository.findSubscribersFor, from memory while listening. */
  async findSubscribersFor(clinicId: string, eventName: string): Promise<SubscriberLookup> {
    if (!this.isListening) return this.repo.findSubscribersFor(clinicId, eventName);
    const cached = await this.entries.get(clinicId, async () => (await this.repo.findClinicSubscribers(clinicId)).map((r) => new CachedSubscriber(r)));
    const now = Date.now();
    const lookup: SubscriberLookup = { targets: [], unreadable: [] };
    for (const c of cached) if (takesEvent(c.row, eventName)) addToLookup(lookup, c.targetAt(this.repo, now));
    return lookup;
  }

  private changed(payload: string): void {
    const clinicId = payloadFor(this.options.schema, payload);
    if (clinicId === null) return;
    if (clinicId === '*') this.entries.clear();
    else this.entries.delete(clinicId);
  }
}

/**
 * One cached subscriber and its target, built once (its secrets decrypted) and handed to every event until
 * the previous secret of a rotation expires, when it is built again without it. Every event getting the
 * same object is what lets the sender parse the subscriber's URL once. Nobody changes a target: it is shared.
 * A row whose secrets cannot be read is remembered as such the same way (the key ring does not change while
 * the process runs; a change to the row is announced and drops the entry).
 */
class CachedSubscriber {
  private target: ReadTarget | undefined;
  /** When `target` stops being right (its previous secret expires), ms since the epoch. */
  private until = -Infinity;

  constructor(readonly row: ClinicSubscriberRow) {}

  targetAt(repo: SubscriberRepository, now: number): ReadTarget {
    if (this.target === undefined || now >= this.until) {
      this.target = repo.target(this.row, now);
      const expires = this.row.previous_secret_expires_at?.getTime() ?? -Infinity;
      this.until = this.row.previous_secret !== null && expires > now ? expires : Infinity;
    }
    return this.target;
  }
}
