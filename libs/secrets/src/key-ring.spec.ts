import { KeyRing, SecretKeyError } from './key-ring';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

describe('KeyRing (AES-256-GCM, key id stored with each value)', () => {
  const ring = new KeyRing([{ id: 'k1', key: key(1) }], 'k1');

  it('round-trips, with a fresh IV each time and no trace of the plain text', () => {
    const a = ring.encrypt('whsec_abc123', 'sub-1');
    const b = ring.encrypt('whsec_abc123', 'sub-1');
    expect(a).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('abc123');
    expect(ring.decrypt(a, 'sub-1')).toBe('whsec_abc123');
    expect(ring.decrypt(b, 'sub-1')).toBe('whsec_abc123');
    expect(ring.encryptNullable(null, 'x')).toBeNull();
    expect(ring.decryptNullable(null, 'x')).toBeNull();
  });

  it('reads legacy plain text as it is, and says it is not current', () => {
    expect(ring.decrypt('whsec_plain', 'sub-1')).toBe('whsec_plain');
    expect(ring.isCurrent('whsec_plain')).toBe(false);
    expect(ring.isCurrent(ring.encrypt('x', 'c'))).toBe(true);
    expect(ring.isCurrent(null)).toBe(true);
    expect(KeyRing.keyIdOf(ring.encrypt('x', 'c'))).toBe('k1');
    expect(KeyRing.keyIdOf('whsec_plain')).toBeNull();
  });

  it('refuses a value moved to another row (context), altered, truncated or under an unknown key', () => {
    const stored = ring.encrypt('whsec_abc123', 'sub-1');
    expect(() => ring.decrypt(stored, 'sub-2')).toThrow(SecretKeyError);
    const body = Buffer.from(stored.slice('enc:v1:k1:'.length), 'base64url');
    body[body.length - 1]! ^= 1;
    const flipped = `enc:v1:k1:${body.toString('base64url')}`;
    expect(() => ring.decrypt(flipped, 'sub-1')).toThrow(/does not authenticate/);
    expect(() => ring.decrypt('enc:v1:k1:AAAA', 'sub-1')).toThrow(/truncated/);
    const other = new KeyRing([{ id: 'k9', key: key(9) }], 'k9');
    expect(() => ring.decrypt(other.encrypt('x', 'sub-1'), 'sub-1')).toThrow(/key "k9", which SECRETS_KEYS does not hold/);
  });

  it('reads values of every key it holds and writes under the active one (rotation)', () => {
    const old = new KeyRing([{ id: 'k1', key: key(1) }], 'k1').encrypt('whsec_old', 'sub-1');
    const both = new KeyRing([{ id: 'k1', key: key(1) }, { id: 'k2', key: key(2) }], 'k2');
    expect(both.decrypt(old, 'sub-1')).toBe('whsec_old');
    expect(both.isCurrent(old)).toBe(false);
    const fresh = both.encrypt('whsec_old', 'sub-1');
    expect(fresh).toMatch(/^enc:v1:k2:/);
    expect(both.isCurrent(fresh)).toBe(true);
    // a key with the same id but other bytes does not read it
    expect(() => new KeyRing([{ id: 'k2', key: key(3) }], 'k2').decrypt(fresh, 'sub-1')).toThrow(/does not authenticate/);
  });

  it('refuses a key of the wrong size or an active key it does not hold', () => {
    expect(() => new KeyRing([{ id: 'k1', key: Buffer.alloc(16) }], 'k1')).toThrow(/not 32 bytes/);
    expect(() => new KeyRing([{ id: 'k1', key: key(1) }], 'k2')).toThrow(/active key "k2"/);
  });

  it('keeps its memo of decrypted values bounded', () => {
    const small = new KeyRing([{ id: 'k1', key: key(1) }], 'k1', 2);
    const values = ['a', 'b', 'c'].map((v) => small.encrypt(v, 'ctx'));
    expect(values.map((v) => small.decrypt(v, 'ctx'))).toEqual(['a', 'b', 'c']);
    expect((small as unknown as { memo: Map<string, string> }).memo.size).toBe(2);
  });
});
