import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A portal link's token (`swp_…`) and the session token it is swapped for (`sws_…`): 256 random bits each. */
export const LINK_TOKEN_PREFIX = 'swp_';
export const SESSION_TOKEN_PREFIX = 'sws_';
const TOKEN = /^sw[ps]_[A-Za-z0-9_-]{43}$/;

export const newLinkToken = () => `${LINK_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
export const newSessionToken = () => `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

/** Whether a text has the shape of one of our tokens of this kind (garbage is refused without a lookup). */
export const isTokenOfKind = (text: unknown, prefix: string): text is string => typeof text === 'string' && TOKEN.test(text) && text.startsWith(prefix);

/**
 * The double-submit value a cookie-authenticated write must carry in `X-CSRF-Token`: an HMAC of the session
 * token, so nothing more is stored and only a page that could read the session's answer (same origin)
 * knows it. The cookie itself is SameSite=Strict as well.
 */
export function csrfTokenFor(sessionToken: string, pepper: string): string {
  return createHmac('sha256', pepper).update(`csrf:${sessionToken}`).digest('base64url');
}

export function csrfTokenMatches(given: unknown, sessionToken: string, pepper: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(csrfTokenFor(sessionToken, pepper));
  return a.length === b.length && timingSafeEqual(a, b);
}
