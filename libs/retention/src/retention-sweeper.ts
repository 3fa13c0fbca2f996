import type { EventScanCursor, RetentionRepository } from '@switchyard/persistence';

export interface RetentionWindows {
  /** Succeeded deliveries (with attempts) and events left without any delivery. */
  deliveredMs: number;
  /** Dead letters, and deliveries (then rows) of subscribers deleted that long ago. */
  deadMs: number;
  auditMs: number;
  batchSize: number;
}

export interface SweepResult {
  deliveries: number;
  events: number;
  subscribers: number;
  auditEntries: number;
  idempotencyKeys: number;
  portalSessions: number;
}

/**
 * Keeps storage bounded (docs/OPERATIONS.md#retention): deletes, in batches of `batchSize` rows (one short
 * statement each, rows held by others skipped), what has been finished for longer than its window —
 * succeeded deliveries, dead letters, deliveries of long-deleted subscribers, events without deliveries,
 * old audit entries, expired Idempotency-Key answers, console sessions that ended longer than the audit window
 * ago (while an audit entry names a session, the session can be looked up). A delivery that is pending, under way or parked is
 * never deleted, nor is an event that still has any delivery. Safe to run in several processes at once.
 */
export class RetentionSweeper {
  constructor(
    private readonly repo: RetentionRepository,
    private readonly windows: RetentionWindows,
  ) {}

  /** One sweep; `stopping` is asked before each batch (the process is shutting down: the rest waits for the next sweep). */
  async sweep(stopping: () => boolean = () => false): Promise<SweepResult> {
    const { deliveredMs, deadMs, auditMs, batchSize } = this.windows;
    const total: SweepResult = { deliveries: 0, events: 0, subscribers: 0, auditEntries: 0, idempotencyKeys: 0, portalSessions: 0 };
    const deliveriesWithEvents = async (batch: () => Promise<{ deliveries: number; events: number }>) => {
      while (!stopping()) {
        const r = await batch();
        total.deliveries += r.deliveries;
        total.events += r.events;
        if (r.deliveries < batchSize) return;
      }
    };
    const rows = async (batch: () => Promise<number>) => {
      let n = 0;
      while (!stopping()) {
        const r = await batch();
        n += r;
        if (r < batchSize) break;
      }
      return n;
    };

    await deliveriesWithEvents(() => this.repo.deleteFinishedDeliveries('succeeded', deliveredMs, batchSize));
    await deliveriesWithEvents(() => this.repo.deleteFinishedDeliveries('dead', deadMs, batchSize));
    await deliveriesWithEvents(() => this.repo.deleteDeliveriesOfDeletedSubscribers(deadMs, batchSize));
    total.subscribers = await rows(() => this.repo.deleteDeletedSubscribers(deadMs, batchSize));
    let cursor: EventScanCursor | null = null;
    while (!stopping()) {
      const r = await this.repo.deleteEventsWithoutDeliveries(deliveredMs, cursor, batchSize);
      total.events += r.deleted;
      if (r.scanned < batchSize || !r.next) break;
      cursor = r.next;
    }
    total.auditEntries = await rows(() => this.repo.deleteAuditEntries(auditMs, batchSize));
    total.idempotencyKeys = await rows(() => this.repo.deleteExpiredIdempotencyKeys(batchSize));
    total.portalSessions = await rows(() => this.repo.deleteEndedPortalSessions(auditMs, batchSize));
    return total;
  }
}
