/**
 * Who is calling: the platform operator (admin token) or one clinic — by its own API key (`keyId`, for the
 * audit trail) or through a portal session an operator opened for it (`portalSessionId`).
 */
export type Principal = { kind: 'operator' } | { kind: 'clinic'; clinicId: string; keyId?: string; portalSessionId?: string };

/**
 * The clinic a principal may act for: an operator may name any clinic, a clinic only itself. Another
 * clinic's id answers null, which callers turn into 404 (not 403: ids of other tenants are not confirmed).
 */
export function clinicScope(principal: Principal, requested: string | undefined): string | null | undefined {
  if (principal.kind === 'operator') return requested;
  if (requested !== undefined && requested !== principal.clinicId) return null;
  return principal.clinicId;
}
