import { DataSource } from 'typeorm';

export interface PortalSessionView {
  id: string;
  clinic_id: string;
  created_at: string;
  expires_at: string;
  /** When the link was opened (swapped for a session); null while it is unused. */
  exchanged_at: string | null;
  revoked_at: string | null;
}

/** A live portal session: who it acts for and until when. */
export interface PortalSessionOwner {
  id: string;
  clinicId: string;
  clinicName: string;
  expiresAt: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toView = (r: any): PortalSessionView => ({
  id: r.id,
  clinic_id: r.clinic_id,
  created_at: r.created_at.toISOString(),
  expires_at: r.expires_at.toISOString(),
  exchanged_at: iso(r.exchanged_at),
  revoked_at: iso(r.revoked_at),
});

/**
 * Portal sessions (links that open the console as one clinic). Tokens never reach this class: only their
 * HMACs. A session is live while it is not revoked, not expired, and its clinic is enabled.
 */
export class PortalSessionRepository {
  constructor(private readonly ds: DataSource) {}

  /** Stores a new link for an existing clinic; null when the clinic does not exist. */
  async create(clinicId: string, s: { id: string; linkHash: string; ttlSeconds: number }): Promise<PortalSessionView | null> {
    const rows = await this.ds.query(
      `INSERT INTO portal_sessions (id, clinic_id, link_hash, expires_at)
       SELECT $1, c.id, $3, now() + make_interval(secs => $4) FROM clinics c WHERE c.id = $2
       RETURNING *`,
      [s.id, clinicId, s.linkHash, s.ttlSeconds],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  /**
   * Swaps an unused, live link for a session: one statement, so a link opened twice at once yields one
   * session. Returns the session, or null for an unknown, used, expired or revoked link.
   */
  async exchange(linkHash: string, sessionHash: string): Promise<PortalSessionOwner | null> {
    const rows = await this.ds.query(
      `UPDATE portal_sessions p SET exchanged_at = now(), session_hash = $2
         FROM clinics c
        WHERE p.link_hash = $1 AND c.id = p.clinic_id AND c.enabled
          AND p.exchanged_at IS NULL AND p.revoked_at IS NULL AND p.expires_at > now()
       RETURNING p.id, p.clinic_id, c.name, p.expires_at`,
      [linkHash, sessionHash],
    );
    const r = rows[0]?.[0];
    return r ? { id: r.id, clinicId: r.clinic_id, clinicName: r.name, expiresAt: r.expires_at } : null;
  }

  /** The live session a cookie's hash stands for. */
  async findLive(sessionHash: string): Promise<PortalSessionOwner | null> {
    const rows = await this.ds.query(
      `SELECT p.id, p.clinic_id, c.name, p.expires_at FROM portal_sessions p JOIN clinics c ON c.id = p.clinic_id
        WHERE p.session_hash = $1 AND c.enabled AND p.revoked_at IS NULL AND p.expires_at > now()`,
      [sessionHash],
    );
    const r = rows[0];
    return r ? { id: r.id, clinicId: r.clinic_id, clinicName: r.name, expiresAt: r.expires_at } : null;
  }

  /** The clinic's links, newest first (at most `limit`). */
  async list(clinicId: string, limit = 100): Promise<PortalSessionView[]> {
    const rows = await this.ds.query(
      `SELECT * FROM portal_sessions WHERE clinic_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [clinicId, limit],
    );
    return rows.map(toView);
  }

  /** Ends a link or session at once; false when the clinic has no such live one. */
  async revoke(clinicId: string, id: string): Promise<boolean> {
    const [, affected] = await this.ds.query(
      `UPDATE portal_sessions SET revoked_at = now() WHERE clinic_id = $1 AND id = $2 AND revoked_at IS NULL`,
      [clinicId, id],
    );
    return affected > 0;
  }
}
