import type { FastifyRequest } from 'fastify';

/** The portal session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it), whole origin. */
export const PORTAL_COOKIE = 'switchyard_portal';

/** The session token in the request's Cookie header, if any. */
export function portalCookieOf(req: Pick<FastifyRequest, 'headers'>): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === PORTAL_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request reached us over HTTPS (directly, or as a proxy in front says). */
export function isHttps(req: Pick<FastifyRequest, 'headers' | 'protocol'>): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return (proto ?? req.protocol) === 'https';
}

/** `Set-Cookie` for a session that ends at `expiresAt`; `Secure` whenever the console is served over HTTPS. */
export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  return `${PORTAL_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export const clearedSessionCookie = (secure: boolean) => `${PORTAL_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

/**
 * The origin the console is reached at, for the links handed to operators: the operator's own request's
 * Host (and X-Forwarded-Host/-Proto from a proxy in front). The link is returned only to that operator.
 */
export function publicOriginOf(req: Pick<FastifyRequest, 'headers' | 'protocol'>): string {
  const fwdHost = req.headers['x-forwarded-host'];
  const given = (Array.isArray(fwdHost) ? fwdHost[0] : fwdHost)?.split(',')[0]?.trim() || req.headers.host || '';
  const host = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(given) ? given : 'localhost';
  return `${isHttps(req) ? 'https' : 'http'}://${host}`;
}
