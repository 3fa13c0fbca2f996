import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { PortalSessionOwner, PortalSessionRepository, PortalSessionView } from '@switchyard/persistence';
import { hashApiKey } from '@switchyard/tenancy';
import { LINK_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, csrfTokenFor, csrfTokenMatches, isTokenOfKind, newLinkToken, newSessionToken } from './portal-token';

/** The path the console is served at; a portal link is `<origin>/console#portal=<token>`. */
export const CONSOLE_PATH = '/console';

/**
 * Portal sessions: an operator issues a link for one clinic; the console page swaps the link's token, once,
 * for a session token kept in an HttpOnly cookie. Tokens are stored only as HMACs (with KEY_PEPPER), are
 * never logged, and the link's token travels in the URL's fragment, which browsers send to no server.
 */
@Injectable()
export class PortalSessionService {
  private readonly pepper: string;

  constructor(
    private readonly sessions: PortalSessionRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.pepper = config.KEY_PEPPER;
  }

  private hash(token: string): string {
    return hashApiKey(token, this.pepper);
  }

  /** A new link for the clinic, valid for `ttlSeconds` (to open, and then as a session); null for an unknown clinic. */
  async issue(clinicId: string, ttlSeconds: number, origin: string): Promise<(PortalSessionView & { url: string }) | null> {
    const token = newLinkToken();
    const session = await this.sessions.create(clinicId, { id: randomUUID(), linkHash: this.hash(token), ttlSeconds });
    return session ? { ...session, url: `${origin}${CONSOLE_PATH}#portal=${token}` } : null;
  }

  /** Swaps a link's token for a session (once); null for anything but an unused, live link. */
  async exchange(linkToken: unknown): Promise<{ owner: PortalSessionOwner; sessionToken: string; csrfToken: string } | null> {
    if (!isTokenOfKind(linkToken, LINK_TOKEN_PREFIX)) return null;
    const sessionToken = newSessionToken();
    const owner = await this.sessions.exchange(this.hash(linkToken), this.hash(sessionToken));
    return owner ? { owner, sessionToken, csrfToken: this.csrfToken(sessionToken) } : null;
  }

  /** The live session of a cookie's token, if any. */
  async authenticate(sessionToken: string | undefined): Promise<PortalSessionOwner | null> {
    if (!isTokenOfKind(sessionToken, SESSION_TOKEN_PREFIX)) return null;
    return this.sessions.findLive(this.hash(sessionToken));
  }

  csrfToken(sessionToken: string): string {
    return csrfTokenFor(sessionToken, this.pepper);
  }

  csrfMatches(given: unknown, sessionToken: string): boolean {
    return csrfTokenMatches(given, sessionToken, this.pepper);
  }

  list(clinicId: string): Promise<PortalSessionView[]> {
    return this.sessions.list(clinicId);
  }

  revoke(clinicId: string, id: string): Promise<boolean> {
    return this.sessions.revoke(clinicId, id);
  }
}
