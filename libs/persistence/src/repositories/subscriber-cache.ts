import { Client } from 'pg';
import { LookupCache } from '@switchyard/batching';
import { SUBSCRIBER_CHANGES_CHANNEL } from '../migrations';
import { ClinicSubscriberRow, SubscriberRepository, SubscriberTarget, takesEvent } from './subscriber.repository';

export interface SubscriberCacheOptions {
  /** Opens the connection that LISTENs: its own, outside the pool. */
  connect: () => Client;
  /** The schema whose changes count (the trigger names it in each notification). */
  schema: string;
  /** Entries older than this are read again even without a notification: a safety net, not the mechanism. */
  ttlMs: number;
  /** Delay before listening again once the connection is lost. */
  retryMs?: number;
  maxEntries?: number;
  /** Called when lookups start being answered from memory (true) or stop (false, with the reason). */
  onListening?: (listening: boolean, err?: Error) => void;
}

/**
 * Each clinic's subscribers kept in memory between changes: fan-out needs them for every event, and a
 * round trip to Postgres per event is two process wake-ups on top of the query. Every change to the
 * `subscribers` table NOTIFYs the clinic at commit (trigger of migration 1764380000000), and this cache
 * LISTENs on a connection of its own and forgets that clinic. While that connection is down, every lookup
 * reads Postgres (never an answer that could be stale), and the cache starts empty again once it is back.
 */
export class SubscriberCache {
  private readonly entries: LookupCache<string, ClinicSubscriberRow[]>;
  private client?: Client;
  private listening = false;
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly repo: SubscriberRepository,
    private readonly options: SubscriberCacheOptions,
  ) {
    this.entries = new LookupCache(options.ttlMs, options.maxEntries ?? 10_000);
  }

  /** Whether lookups are answered from memory now. */
  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Starts listening; resolves once the first attempt succeeded or failed (it is retried either way).
   * With `ttlMs` 0 the cache is off: it never listens, and every lookup reads Postgres.
   */
  async start(): Promise<void> {
    if (!this.stopped || this.options.ttlMs <= 0) return;
    this.stopped = false;
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.setListening(false);
    await client?.end().catch(() => undefined);
  }

  /** The same answer as SubscriberRepository.findSubscribersFor, from memory while listening. */
  async findSubscribersFor(clinicId: string, eventName: string): Promise<SubscriberTarget[]> {
    if (!this.listening) return this.repo.findSubscribersFor(clinicId, eventName);
    const rows = await this.entries.get(clinicId, () => this.repo.findClinicSubscribers(clinicId));
    const now = Date.now();
    return rows.filter((r) => takesEvent(r, eventName)).map((r) => this.repo.target(r, now));
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = this.options.connect();
    this.client = client;
    client.on('notification', (n) => this.changed(n.payload ?? ''));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${SUBSCRIBER_CHANGES_CHANNEL}`);
      if (this.client === client) this.setListening(true);
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  private lost(client: Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.setListening(false, err);
    if (!this.stopped) {
      this.retryTimer = setTimeout(() => void this.listen(), this.options.retryMs ?? 1_000);
      this.retryTimer.unref();
    }
  }

  private changed(payload: string): void {
    const at = payload.lastIndexOf(':');
    if (payload.slice(0, at) !== this.options.schema) return;
    const clinicId = payload.slice(at + 1);
    if (clinicId === '*') this.entries.clear();
    else this.entries.delete(clinicId);
  }

  private setListening(listening: boolean, err?: Error): void {
    // Whatever was cached before (or while) not listening may have missed a change.
    this.entries.clear();
    const changed = this.listening !== listening;
    this.listening = listening;
    if (changed || err) this.options.onListening?.(listening, err);
  }
}
