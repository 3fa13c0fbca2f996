import { LookupCache } from '@switchyard/batching';
import { SUBSCRIBER_CHANGES_CHANNEL } from '../migrations';
import { PgListener, payloadFor } from '../pg-listener';
import { ClinicSubscriberRow, SubscriberRepository, SubscriberTarget, takesEvent, toTarget } from './subscriber.repository';

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
  private readonly entries: LookupCache<string, ClinicSubscriberRow[]>;
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
  async findSubscribersFor(clinicId: string, eventName: string): Promise<SubscriberTarget[]> {
    if (!this.isListening) return this.repo.findSubscribersFor(clinicId, eventName);
    const rows = await this.entries.get(clinicId, () => this.repo.findClinicSubscribers(clinicId));
    const now = Date.now();
    return rows.filter((r) => takesEvent(r, eventName)).map((r) => toTarget(r, now));
  }

  private changed(payload: string): void {
    const clinicId = payloadFor(this.options.schema, payload);
    if (clinicId === null) return;
    if (clinicId === '*') this.entries.clear();
    else this.entries.delete(clinicId);
  }
}
