import { AuditRecord, UUID_PATTERN } from '@switchyard/persistence';

/** Who called: the same shape as the admin app's principal. */
export type AuditActor = { kind: 'operator' } | { kind: 'clinic'; clinicId: string; keyId?: string; portalSessionId?: string };

/** What the audit knows about one write request once it has been answered. */
export interface AuditedRequest {
  actor: AuditActor;
  method: string;
  /** The route pattern (`/api/external/webhook/:id`), not the path: ids are in `params`. */
  route: string;
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  body: unknown;
  /** The answer's body on success (ids and the clinic are read from it, nothing else). */
  response: unknown;
  requestId: string;
  status: number;
  errorCode: string | null;
}

/** Writes are recorded; reads are not. */
export const AUDITED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Fields of an answer that name what was made or changed. Only UUID-shaped values are taken, so a token is never one. */
const ID_FIELDS = ['webhook_id', 'key_id', 'id', 'portal_session_id', 'session_id', 'delivery_id'];
const FIELD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_FIELDS = 50;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const uuidOr = (v: unknown): string | null => (typeof v === 'string' && UUID_PATTERN.test(v) ? v.toLowerCase() : null);

/**
 * The names of the fields a request body sent (never their values: a body may carry an API key or a
 * secret), sorted; odd names are left out.
 */
export function fieldNamesOf(body: unknown): string[] {
  if (!isObject(body)) return [];
  return Object.keys(body)
    .filter((k) => FIELD_NAME.test(k))
    .sort()
    .slice(0, MAX_FIELDS);
}

/** The id of what a write acted on: the id its answer names (what it created or changed), else the last id in the path. */
export function targetIdOf(params: Record<string, string | undefined>, response: unknown): string | null {
  for (const holder of [response, isObject(response) ? response.data : undefined]) {
    if (!isObject(holder)) continue;
    for (const field of ID_FIELDS) {
      const id = uuidOr(holder[field]);
      if (id) return id;
    }
  }
  const fromPath = Object.values(params).map(uuidOr).filter((v): v is string => v !== null);
  return fromPath.length > 0 ? fromPath[fromPath.length - 1]! : null;
}

/**
 * The clinic an entry belongs to: the acting clinic, or for an operator the clinic named by the answer,
 * the body, the query, a `/admin/clinics/:id` path or the clinic it created — null when none of them names one (the caller may
 * then look the target up).
 */
export function clinicIdOf(r: Pick<AuditedRequest, 'actor' | 'route' | 'params' | 'query' | 'body' | 'response'>): string | null {
  if (r.actor.kind === 'clinic') return r.actor.clinicId;
  const candidates = [
    isObject(r.response) ? r.response.clinic_id : undefined,
    isObject(r.response) && isObject(r.response.data) ? r.response.data.clinic_id : undefined,
    isObject(r.body) ? r.body.clinic_id : undefined,
    r.query.clinic_id,
    r.route.startsWith('/admin/clinics/:id') ? r.params.id : undefined,
    // a clinic just created belongs to itself
    r.route === '/admin/clinics' && isObject(r.response) ? r.response.id : undefined,
  ];
  for (const c of candidates) {
    const id = uuidOr(c);
    if (id) return id;
  }
  return null;
}

/** The row to record for an answered write request. */
export function auditRecordOf(r: AuditedRequest, clinicId: string | null): AuditRecord {
  const actor = r.actor;
  return {
    actorKind: actor.kind === 'operator' ? 'operator' : actor.portalSessionId ? 'portal_session' : 'clinic_key',
    actorId: actor.kind === 'operator' ? null : (actor.portalSessionId ?? actor.keyId ?? null),
    clinicId,
    method: r.method,
    route: r.route,
    targetId: targetIdOf(r.params, r.status < 400 ? r.response : undefined),
    fields: fieldNamesOf(r.body),
    requestId: r.requestId,
    status: r.status,
    errorCode: r.errorCode,
  };
}
