/**
 * The console's only way to the server. A clinic's calls ride on the HttpOnly portal cookie (sent by the
 * browser, never seen by this code) and carry the session's CSRF token on writes; an operator's carry the
 * admin token as a bearer, held in memory only (a reload forgets it).
 */
export type Session =
  | { kind: 'clinic'; clinic: { id: string; name: string }; csrf: string; expiresAt: string }
  | { kind: 'operator'; token: string };

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Told when the server stops taking a session's credential (401): a clinic's session expired, was revoked or
 * its clinic disabled; an operator's token was changed. The page then leaves that session instead of
 * showing its pages with every call failing (and a sign-out that fails too).
 */
let onSessionEnded: ((session: Session) => void) | null = null;
export function whenSessionEnds(handler: ((session: Session) => void) | null): void {
  onSessionEnded = handler;
}

async function request<T>(session: Session | null, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session?.kind === 'operator') headers.authorization = `Bearer ${session.token}`;
  if (session?.kind === 'clinic' && method !== 'GET') headers['x-csrf-token'] = session.csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.status === 401 && session) onSessionEnded?.(session);
  if (!res.ok) throw new ApiFailure(res.status, json?.error?.message ?? `The server answered ${res.status}.`, json?.error?.code);
  return json as T;
}

/** Calls of one session. */
export class Api {
  constructor(readonly session: Session) {}
  get<T>(path: string) {
    return request<T>(this.session, 'GET', path);
  }
  post<T>(path: string, body: unknown = {}) {
    return request<T>(this.session, 'POST', path, body);
  }
  patch<T>(path: string, body: unknown) {
    return request<T>(this.session, 'PATCH', path, body);
  }
  del<T>(path: string) {
    return request<T>(this.session, 'DELETE', path);
  }
}

interface SessionInfo {
  clinic: { id: string; name: string };
  expires_at: string;
  csrf_token: string;
}
const toClinicSession = (i: SessionInfo): Session => ({ kind: 'clinic', clinic: i.clinic, csrf: i.csrf_token, expiresAt: i.expires_at });

/** Swaps a portal link's token for the session cookie. */
export const openPortalLink = (token: string) => request<SessionInfo>(null, 'POST', '/api/portal/session', { token }).then(toClinicSession);

/** The portal session this browser already has, if any. */
export const currentPortalSession = () =>
  request<SessionInfo>(null, 'GET', '/api/portal/session').then(toClinicSession, (err: ApiFailure) => {
    if (err.status === 401) return null;
    throw err;
  });

/**
 * Checks an admin token by listing one clinic with it. A token is visible ASCII: one with other characters (a
 * dash or quote a word processor put in) cannot be sent in a header at all, and fetch's refusal read as
 * "the server cannot be reached".
 */
export async function operatorSession(pasted: string): Promise<Session> {
  const token = pasted.trim(); // white space around it, as a header value's, is no part of it
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ApiFailure(0, 'That is not an admin token: an admin token holds only letters, digits and ASCII punctuation. Paste it again as it was given.');
  }
  const session: Session = { kind: 'operator', token };
  await request(session, 'GET', '/admin/clinics?limit=1');
  return session;
}

export const query = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

export interface Webhook {
  webhook_id: string;
  clinic_id: string;
  webhook_url: string;
  event_types: string[];
  format: 'cloudevents' | 'nimbus';
  enabled: boolean;
  disabled_reason: string | null;
  max_in_flight: number | null;
  created_at: string;
}
export interface Health {
  webhook_id: string;
  attempts_24h: number;
  successes_24h: number;
  success_rate_24h: number | null;
  last_attempt: { at: string; outcome: string; status_code: number | null } | null;
  waiting: number;
  parked: number;
  dead: number;
}
export interface Delivery {
  id: string;
  event_id: string;
  clinic_id: string;
  webhook_id: string;
  event_name: string;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  dead_at: string | null;
}
export interface Attempt {
  attempt: number;
  outcome: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
  started_at: string;
}
export interface EventType {
  name: string;
  description: string;
  schema: unknown;
  example: unknown;
}
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
export interface Stats {
  since: string;
  until: string;
  bucket_minutes: number;
  buckets: Array<{ start: string; succeeded: number; waiting: number; dead: number; parked: number; cancelled: number }>;
}
export interface Clinic {
  id: string;
  name: string;
  enabled: boolean;
  created_at: string;
}
export interface Key {
  key_id: string;
  hint: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}
export interface PortalLink {
  id: string;
  clinic_id: string;
  created_at: string;
  expires_at: string;
  exchanged_at: string | null;
  revoked_at: string | null;
  url?: string;
}
