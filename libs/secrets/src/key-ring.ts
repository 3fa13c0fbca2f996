import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The prefix of every encrypted value: format version 1. A value without it is legacy plain text. */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyError extends Error {}

/**
 * Encrypts short secrets (signing secrets, API keys) for storage: AES-256-GCM with a fresh 96-bit IV per
 * value, stored as `enc:v1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`. The key id travels with the value,
 * so keys can be added and retired: new values use the active key, old ones are read with the key they
 * name until `reencrypt-secrets` has moved them (see docs/OPERATIONS.md).
 *
 * `context` is bound as additional authenticated data (e.g. the subscriber id): a value copied onto another
 * row does not decrypt there. Values without the prefix are returned as they are (rows written before
 * encryption existed), and `isCurrent` tells the re-encryption which ones still need it.
 */
export class KeyRing {
  private readonly keys: Map<string, Buffer>;
  /** Decrypted values by their stored form: fan-out reads the same few subscribers for every event. */
  private readonly memo = new Map<string, string>();

  constructor(
    keys: Array<{ id: string; key: string | Buffer }>,
    readonly activeKeyId: string,
    private readonly memoSize = 10_000,
  ) {
    this.keys = new Map(keys.map((k) => [k.id, typeof k.key === 'string' ? Buffer.from(k.key, 'base64') : k.key]));
    for (const [id, key] of this.keys) if (key.length !== 32) throw new SecretKeyError(`key "${id}" is not 32 bytes`);
    if (!this.keys.has(activeKeyId)) throw new SecretKeyError(`the active key "${activeKeyId}" is not in the key ring`);
  }

  /** The ring of a validated config (`SECRETS_KEYS`, `SECRETS_ACTIVE_KEY`). */
  static fromConfig(c: { SECRETS_KEYS: Array<{ id: string; key: string }>; SECRETS_ACTIVE_KEY: string }): KeyRing {
    return new KeyRing(c.SECRETS_KEYS, c.SECRETS_ACTIVE_KEY);
  }

  encrypt(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.activeKeyId)!, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${this.activeKeyId}:${body.toString('base64url')}`;
  }

  encryptNullable(plain: string | null, context: string): string | null {
    return plain === null ? null : this.encrypt(plain, context);
  }

  /** The plain text of a stored value; throws SecretKeyError for an unknown key or a value that fails authentication. */
  decrypt(stored: string, context: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const memoKey = `${context}\u0000${stored}`;
    const known = this.memo.get(memoKey);
    if (known !== undefined) return known;
    const rest = stored.slice(PREFIX.length);
    const at = rest.indexOf(':');
    const keyId = rest.slice(0, at);
    const key = this.keys.get(keyId);
    if (at <= 0 || !key) throw new SecretKeyError(`a secret is encrypted under key "${keyId}", which SECRETS_KEYS does not hold`);
    const body = Buffer.from(rest.slice(at + 1), 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) throw new SecretKeyError(`a secret under key "${keyId}" is truncated`);
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      plain = Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(`a secret under key "${keyId}" does not authenticate (wrong key, altered, or moved from another row)`);
    }
    if (this.memo.size >= this.memoSize) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(memoKey, plain);
    return plain;
  }

  decryptNullable(stored: string | null, context: string): string | null {
    return stored === null ? null : this.decrypt(stored, context);
  }

  /** Whether a stored value is encrypted under the active key (nothing for `reencrypt-secrets` to do). */
  isCurrent(stored: string | null): boolean {
    return stored === null || stored.startsWith(`${PREFIX}${this.activeKeyId}:`);
  }

  /** The key id a stored value names, or null for plain text. */
  static keyIdOf(stored: string): string | null {
    if (!stored.startsWith(PREFIX)) return null;
    const rest = stored.slice(PREFIX.length);
    return rest.slice(0, rest.indexOf(':'));
  }
}
