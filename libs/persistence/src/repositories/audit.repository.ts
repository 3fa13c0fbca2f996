import { DataSource } from 'typeorm';
import { rawQuery } from '../raw-query';

export type AuditActorKind = 'operator' | 'clinic_key' | 'portal_session';

/** One write through the admin API, as recorded: never a body value, only the names of the fields sent. */
export interface AuditRecord {
  actorKind: AuditActorKind;
  /** The clinic key's id or the portal session's id; null for the operator. */
  actorId: string | null;
  /** The clinic the entry belongs to: the acting clinic, or the clinic an operator acted on (when known). */
  clinicId: string | null;
  method: string;
  /** The route pattern, e.g. `/api/external/webhook/:id`. */
  route: string;
  targetId: string | null;
  fields: string[];
  requestId: string;
  status: number;
  errorCode: string | null;
}

export interface AuditView {
  id: string;
  at: string;
  actor: { kind: AuditActorKind; id: string | null };
  clinic_id: string | null;
  method: string;
  route: string;
  target_id: string | null;
  fields: string[];
  request_id: string;
  status: number;
  outcome: 'succeeded' | 'failed';
  error_code: string | null;
}

export interface AuditFilter {
  /** Required: a clinic id, or null for every clinic (operators only). */
  clinicId: string | null;
  actorKind?: AuditActorKind;
  method?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  limit: number;
  /** `next_cursor` of the previous page: the entries before it. */
  before?: string;
}

/** The audit trail (table audit_log), newest first. */
export class AuditRepository {
  constructor(private readonly ds: DataSource) {}

  async record(r: AuditRecord): Promise<void> {
    await rawQuery(
      this.ds,
      `INSERT INTO audit_log (actor_kind, actor_id, clinic_id, method, route, target_id, fields, request_id, status, error_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [r.actorKind, r.actorId, r.clinicId, r.method, r.route, r.targetId, r.fields, r.requestId, r.status, r.errorCode],
    );
  }

  async list(f: AuditFilter): Promise<{ items: AuditView[]; next_cursor: string | null }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.clinicId !== null) add('clinic_id = ?', f.clinicId);
    if (f.actorKind) add('actor_kind = ?', f.actorKind);
    if (f.method) add('method = ?', f.method);
    if (f.targetId) add('target_id = ?', f.targetId);
    if (f.since) add('at >= ?', f.since);
    if (f.until) add('at < ?', f.until);
    if (f.before) add('id < ?', f.before);
    params.push(f.limit);
    // `audit_log.id` in ORDER BY: a bare `id` would name the text output column and sort 9 before 26.
    const rows: any[] = await rawQuery(
      this.ds,
      `SELECT id::text, at, actor_kind, actor_id, clinic_id, method, route, target_id, fields, request_id, status, error_code
         FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY audit_log.id DESC LIMIT $${params.length}`,
      params,
    );
    const items: AuditView[] = rows.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      actor: { kind: r.actor_kind, id: r.actor_id },
      clinic_id: r.clinic_id,
      method: r.method,
      route: r.route,
      target_id: r.target_id,
      fields: r.fields,
      request_id: r.request_id,
      status: r.status,
      outcome: r.status < 400 ? 'succeeded' : 'failed',
      error_code: r.error_code,
    }));
    return { items, next_cursor: items.length === f.limit ? items[items.length - 1]!.id : null };
  }
}
