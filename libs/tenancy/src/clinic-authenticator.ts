import { LookupCache } from '@switchyard/batching';
import { ApiKeyRepository, KeyOwner } from '@switchyard/persistence';
import { hashApiKey, isWellFormedApiKey } from './api-key';

export interface AuthenticatedClinic {
  clinicId: string;
  keyId: string;
}

/**
 * Resolves an `X-API-Key` to its clinic. Malformed keys are refused without a lookup; answers (also
 * negative ones) are cached for `ttlMs`, so a revoked key or a disabled clinic stops working within that
 * time. The cache is bounded.
 */
export class ClinicAuthenticator {
  /** Lookups by key hash, shared by the requests for a key that arrive while one runs; failures are not kept. */
  private readonly cache: LookupCache<string, KeyOwner | null>;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly pepper: string,
    ttlMs: number,
    maxEntries = 10_000,
  ) {
    this.cache = new LookupCache(ttlMs, maxEntries);
  }

  /** The clinic of a key, or null for a missing, malformed, unknown, revoked or expired key or a disabled clinic. */
  async authenticate(rawKey: string | string[] | undefined): Promise<AuthenticatedClinic | null> {
    if (typeof rawKey !== 'string' || !isWellFormedApiKey(rawKey)) return null;
    const hash = hashApiKey(rawKey, this.pepper);
    const owner = await this.cache.get(hash, () => this.keys.findOwner(hash));
    if (!owner || !owner.clinicEnabled) return null;
    return { clinicId: owner.clinicId, keyId: owner.keyId };
  }

  /** Drops cached answers (after a change made by this process, e.g. a revocation through admin). */
  invalidate(): void {
    this.cache.clear();
  }
}
