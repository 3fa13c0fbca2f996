import { generateApiKey, hashApiKey, hashesEqual, isWellFormedApiKey, keyHint } from './api-key';

describe('API keys', () => {
  it('generates well-formed, distinct keys', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(/^swy_[0-9A-Za-z]{40}$/);
      expect(isWellFormedApiKey(key)).toBe(true);
    }
  });

  it('refuses a key with one character changed (checksum)', () => {
    const key = generateApiKey();
    const i = 10;
    const changed = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
    expect(isWellFormedApiKey(changed)).toBe(false);
  });

  it.each(['', 'swy_', 'your-api-key-here', `swy_${'a'.repeat(39)}`, `sk_${'a'.repeat(41)}`, `swy_${'!'.repeat(40)}`])(
    'refuses %p',
    (text) => expect(isWellFormedApiKey(text)).toBe(false),
  );

  it('hashes with a pepper and compares in constant time', () => {
    const key = generateApiKey();
    const h = hashApiKey(key, 'pepper-one-123456');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toBe(hashApiKey(key, 'pepper-two-123456'));
    expect(hashesEqual(h, hashApiKey(key, 'pepper-one-123456'))).toBe(true);
    expect(hashesEqual(h, hashApiKey(generateApiKey(), 'pepper-one-123456'))).toBe(false);
  });

  it('shows only the last characters as a hint', () => {
    const key = generateApiKey();
    expect(keyHint(key)).toBe(`swy_…${key.slice(-4)}`);
  });
});
