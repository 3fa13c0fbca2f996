import { ApiKeyRepository, KeyOwner } from '@switchyard/persistence';
import { hashApiKey, isWellFormedApiKey } from './api-key';

export interface AuthenticatedClinic {
  clinicId: string;
  keyId: string;
}

interface CacheEntry {
  /** The lookup itself, shared by every request for the key that arrives while it runs. */
  owner: Promise<KeyOwner | null>;
  expiresAt: number;
}

/**
 * Resolves an `X-API-Key` to its clinic. Malformed keys are refused without a lookup; answers (also
 * negative ones) are cached for `ttlMs`, so a revoked key or a disabled clinic stops working within that
 * time. The cache is bounded.
 */
export class ClinicAuthenticator {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly pepper: string,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The clinic of a key, or null for a missing, malformed, unknown, revoked or expired key or a disabled clinic. */
  async authenticate(rawKey: string | string[] | undefined): Promise<AuthenticatedClinic | null> {
    if (typeof rawKey !== 'string' || !isWellFormedApiKey(rawKey)) return null;
    const hash = hashApiKey(rawKey, this.pepper);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expiresAt <= now) {
      const looked: CacheEntry = { owner: this.keys.findOwner(hash), expiresAt: now + this.ttlMs };
      // A failed lookup (Postgres down) is not kept: the next request asks again.
      looked.owner.catch(() => this.cache.get(hash) === looked && this.cache.delete(hash));
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, looked);
      entry = looked;
    }
    const owner = await entry.owner;
    if (!owner || !owner.clinicEnabled) return null;
    return { clinicId: owner.clinicId, keyId: owner.keyId };
  }

  /** Drops cached answers (after a change made by this process, e.g. a revocation through admin). */
  invalidate(): void {
    this.cache.clear();
  }
}
