import { idempotencyScopeOf, isWellFormedIdempotencyKey, requestFingerprint } from './request-fingerprint';

describe('Idempotency-Key requests', () => {
  it('takes keys of 1–255 visible ASCII characters only', () => {
    expect(isWellFormedIdempotencyKey('3f1c2a9e-0d7b-4c1e-9a55-1f0e2d3c4b5a')).toBe(true);
    expect(isWellFormedIdempotencyKey('x'.repeat(255))).toBe(true);
    for (const bad of ['', 'x'.repeat(256), 'with space', 'tab\there', 'ünï', ['a'], undefined]) expect(isWellFormedIdempotencyKey(bad)).toBe(false);
  });

  it('scopes keys per clinic (any of its keys or sessions) or the operator', () => {
    expect(idempotencyScopeOf({ kind: 'operator' })).toBe('operator');
    expect(idempotencyScopeOf({ kind: 'clinic', clinicId: 'c1', keyId: 'k1' })).toBe(idempotencyScopeOf({ kind: 'clinic', clinicId: 'c1', keyId: 'k2' }));
    expect(idempotencyScopeOf({ kind: 'clinic', clinicId: 'c1' })).not.toBe(idempotencyScopeOf({ kind: 'clinic', clinicId: 'c2' }));
  });

  it('sees the same request in another key order, and another one in any other method, path or value', () => {
    const a = requestFingerprint('POST', '/api/external/webhook', { clinic_id: 'c', webhook_url: 'https://x/' });
    expect(requestFingerprint('POST', '/api/external/webhook', { webhook_url: 'https://x/', clinic_id: 'c' })).toBe(a);
    expect(requestFingerprint('POST', '/api/external/webhook', { webhook_url: 'https://y/', clinic_id: 'c' })).not.toBe(a);
    expect(requestFingerprint('POST', '/admin/clinics', { clinic_id: 'c', webhook_url: 'https://x/' })).not.toBe(a);
    expect(requestFingerprint('POST', '/x', undefined)).toBe(requestFingerprint('POST', '/x', null));
  });
});
