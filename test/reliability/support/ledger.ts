import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { ReceivedRequest, TestReceiver } from '../../support/receiver';

/** Where each spec appends its rows; the table reporter prints them at the end of the run. */
export const RESULTS_DIR = process.env.SWITCHYARD_RELIABILITY_RESULTS ?? join(tmpdir(), 'switchyard-reliability-results');

export interface ReconcileRow {
  scenario: string;
  sent: number;
  accepted: number;
  /** (event, subscriber) pairs expected: accepted events × the subscribers of their clinic. */
  expected: number;
  delivered: number;
  deadLettered: number;
  lost: number;
  deliveredTwice: number;
  crossTenant: number;
}

interface Tracked {
  receiver?: TestReceiver;
  clinicId: string;
  subscriberId: string;
  /** event id → 2xx answers given for it. */
  ok: Map<string, number>;
  crossTenant: number;
}

/**
 * What the ingress promised and what came out. Every 200 (event id + clinic) is recorded; receivers are
 * tracked per (clinic, subscriber); the reconciler compares: every accepted event must have reached
 * every subscriber of its clinic (a 2xx answer, by `webhook-id` = event id) or be dead-lettered for it
 * in Postgres. Nothing may cross tenants. Duplicates are allowed (at-least-once) but counted.
 */
export class Ledger {
  sent = 0;
  readonly accepted = new Map<string, string>(); // event id → clinic id
  readonly statuses = new Map<number, number>();
  private readonly tracked: Tracked[] = [];

  constructor(readonly scenario: string) {}

  /** Records one answer of the ingress to one attempt (status 0 = no answer at all). */
  recordAnswer(clinicId: string, status: number, body: unknown): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (status !== 200) return;
    const eventId = (body as { event_id?: unknown })?.event_id;
    if (typeof eventId !== 'string') throw new Error(`200 without an event_id: ${JSON.stringify(body)}`);
    const known = this.accepted.get(eventId);
    if (known && known !== clinicId) throw new Error(`event ${eventId} accepted for two clinics`);
    this.accepted.set(eventId, clinicId);
  }

  /**
   * Tracks a receiver that is one subscriber of one clinic. Its answers come from `respond` (200 by
   * default); set them here, not on the receiver afterwards, so that 2xx answers are counted.
   */
  track(receiver: TestReceiver, clinicId: string, subscriberId: string, respond = receiver.respond): void {
    const t: Tracked = { receiver, clinicId, subscriberId, ok: new Map(), crossTenant: 0 };
    receiver.respond = (req: ReceivedRequest, i: number) => {
      const answer = respond(req, i);
      const id = String(req.headers['webhook-id'] ?? '');
      let clinic: unknown;
      try {
        clinic = JSON.parse(req.body).clinicid;
      } catch {
        clinic = undefined;
      }
      const owner = this.accepted.get(id);
      if (clinic !== clinicId || (owner !== undefined && owner !== clinicId)) t.crossTenant++;
      if (answer !== 'hang' && answer.status >= 200 && answer.status < 300) t.ok.set(id, (t.ok.get(id) ?? 0) + 1);
      return answer;
    };
    this.tracked.push(t);
  }

  /**
   * A subscriber whose endpoint never answers 2xx (or is not a TestReceiver): every accepted event of its
   * clinic must end dead-lettered for it.
   */
  expectSubscriber(clinicId: string, subscriberId: string): void {
    this.tracked.push({ clinicId, subscriberId, ok: new Map(), crossTenant: 0 });
  }

  async reconcile(db: DataSource, schema: string): Promise<ReconcileRow> {
    const dead = new Set<string>();
    const rows: Array<{ event_id: string; subscriber_id: string }> = await db.query(
      `SELECT event_id, subscriber_id FROM "${schema}".deliveries WHERE status IN ('dead', 'parked')`,
    );
    for (const r of rows) dead.add(`${r.event_id}/${r.subscriber_id}`);
    let expected = 0;
    let delivered = 0;
    let deadLettered = 0;
    let lost = 0;
    let twice = 0;
    let crossTenant = 0;
    for (const t of this.tracked) {
      crossTenant += t.crossTenant;
      for (const [id, n] of t.ok) {
        if (this.accepted.get(id) !== undefined && this.accepted.get(id) !== t.clinicId) crossTenant++;
        if (n > 1) twice++;
      }
    }
    for (const [eventId, clinicId] of this.accepted) {
      for (const t of this.tracked.filter((x) => x.clinicId === clinicId)) {
        expected++;
        if (t.ok.has(eventId)) delivered++;
        else if (dead.has(`${eventId}/${t.subscriberId}`)) deadLettered++;
        else lost++;
      }
    }
    return { scenario: this.scenario, sent: this.sent, accepted: this.accepted.size, expected, delivered, deadLettered, lost, deliveredTwice: twice, crossTenant };
  }

  /** Reconciles until nothing is lost (deliveries still under way) or the time is up; returns the last row. */
  async settle(db: DataSource, schema: string, timeoutMs = 30_000): Promise<ReconcileRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.reconcile(db, schema);
      if (row.lost === 0 || Date.now() > deadline) return row;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Appends a row for the end-of-run table (see table-reporter.js). */
export function report(row: ReconcileRow & { note?: string }): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(join(RESULTS_DIR, `${process.pid}.jsonl`), `${JSON.stringify(row)}\n`);
}
