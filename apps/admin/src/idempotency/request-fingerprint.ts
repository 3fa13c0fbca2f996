import { createHash } from 'node:crypto';
import { canonicalJson } from '@switchyard/contracts';
import type { Principal } from '../auth/principal';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const WELL_FORMED_KEY = /^[\x21-\x7e]{1,255}$/;

/** A key is 1–255 visible ASCII characters (a UUID is the usual choice); anything else is refused. */
export function isWellFormedIdempotencyKey(key: unknown): key is string {
  return typeof key === 'string' && WELL_FORMED_KEY.test(key);
}

/**
 * Whose keys a key is among: the operator's, or one clinic's (whichever of its keys or portal sessions
 * sent it, so a retry after a key rotation still finds the first answer).
 */
export function idempotencyScopeOf(principal: Principal): string {
  return principal.kind === 'operator' ? 'operator' : `clinic:${principal.clinicId}`;
}

/** What makes two requests "the same" under one key: method, path with query, and the body as canonical JSON. */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${url}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}
