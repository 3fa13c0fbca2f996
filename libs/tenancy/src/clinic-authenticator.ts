import { LookupCache } from '@switchyard/batching';
import { ApiKeyRepository, ClinicChanges, KeyOwner } from '@switchyard/persistence';
import { hashApiKey, isWellFormedApiKey } from './api-key';

export interface AuthenticatedClinic {
  clinicId: string;
  keyId: string;
}

/**
 * Resolves an `X-API-Key` to its clinic. Malformed keys are refused without a lookup; answers (also
 * negative ones) are cached as long as `changes` allows: until the key's clinic changes while changes are
 * heard (a revoked key or a disabled clinic stops working at commit), for AUTH_CACHE_TTL otherwise. A
 * key's expiry (a rotation's grace) is checked at each use. The cache is bounded.
 */
export class ClinicAuthenticator {
  /** Lookups by key hash, shared by the requests for a key that arrive while one runs; failures are not kept. */
  private readonly cache: LookupCache<string, KeyOwner | null>;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly pepper: string,
    changes: ClinicChanges,
    maxEntries = 10_000,
  ) {
    this.cache = new LookupCache(() => changes.keepForMs(), maxEntries);
    // A negative answer has no clinic to be forgotten with, and any new key may be the one it refused.
    changes.onChange((clinicId) => this.cache.forget((owner) => owner === null || clinicId === '*' || owner.clinicId === clinicId));
  }

  /** The clinic of a key, or null for a missing, malformed, unknown, revoked or expired key or a disabled clinic. */
  async authenticate(rawKey: string | string[] | undefined): Promise<AuthenticatedClinic | null> {
    if (typeof rawKey !== 'string' || !isWellFormedApiKey(rawKey)) return null;
    const hash = hashApiKey(rawKey, this.pepper);
    const owner = await this.cache.get(hash, () => this.keys.findOwner(hash));
    if (!owner || !owner.clinicEnabled || (owner.expiresAt !== null && owner.expiresAt.getTime() <= Date.now())) return null;
    return { clinicId: owner.clinicId, keyId: owner.keyId };
  }

  /** Drops cached answers (after a change made by this process, e.g. a revocation through admin, which does not listen). */
  invalidate(): void {
    this.cache.clear();
  }
}
