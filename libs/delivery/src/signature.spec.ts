import { generateSigningSecret, sign, signatureHeader, verifySignature } from './signature';

describe('Standard Webhooks signature', () => {
  it('matches the reference example of the specification', () => {
    // Example from the Standard Webhooks spec / svix libraries.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const timestamp = 1614265330;
    const body = '{"test": 2432232314}';
    expect(sign(secret, id, timestamp, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies its own signatures and refuses tampering or stale timestamps', () => {
    const secret = generateSigningSecret();
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader([secret], 'evt-1', now, '{"a":1}');
    expect(verifySignature(secret, { id: 'evt-1', timestamp: String(now), signature: header }, '{"a":1}')).toBe(true);
    expect(verifySignature(secret, { id: 'evt-1', timestamp: String(now), signature: header }, '{"a":2}')).toBe(false);
    expect(verifySignature(secret, { id: 'evt-1', timestamp: String(now - 3600), signature: header }, '{"a":1}')).toBe(false);
  });

  it('sends one signature per secret during a rotation overlap', () => {
    const [oldSecret, newSecret] = [generateSigningSecret(), generateSigningSecret()];
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader([newSecret, oldSecret], 'evt-2', now, 'x');
    expect(header.split(' ')).toHaveLength(2);
    for (const s of [oldSecret, newSecret]) {
      expect(verifySignature(s, { id: 'evt-2', timestamp: String(now), signature: header }, 'x')).toBe(true);
    }
  });
});
