import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, the key is the base64 part of a `whsec_` secret, and
 * `webhook-signature` lists `v1,<base64 HMAC-SHA256>` once per secret (both during a rotation overlap).
 */
export const SECRET_PREFIX = 'whsec_';

export function generateSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

/** Keys decoded from their secrets, kept for the next signature (every delivery signs; a subscriber's secret rarely changes). */
const decodedKeys = new Map<string, Buffer>();
const DECODED_KEYS_KEPT = 10_000;

function keyOf(secret: string): Buffer {
  let key = decodedKeys.get(secret);
  if (key === undefined) {
    key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
    if (decodedKeys.size >= DECODED_KEYS_KEPT) decodedKeys.delete(decodedKeys.keys().next().value!);
    decodedKeys.set(secret, key);
  }
  return key;
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  // The body is hashed as it is, not copied into one string with the id and timestamp first.
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export function signatureHeader(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' ');
}

/**
 * What a receiver does: true when one of the listed signatures matches and the timestamp is within
 * `toleranceSeconds` of now. Used by the demo receiver and the tests.
 */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
