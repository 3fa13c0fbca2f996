import { ClinicRateLimiter } from './clinic-rate-limiter';

describe('ClinicRateLimiter', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000_000));

  it('allows the burst, then refuses with a Retry-After until tokens refill', () => {
    const limiter = new ClinicRateLimiter(2, 3, now);
    expect([1, 2, 3].map(() => limiter.take('a').ok)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock += 500; // 2/s → one token back
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('keeps one bucket per clinic', () => {
    const limiter = new ClinicRateLimiter(1, 1, now);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
    expect(limiter.take('b').ok).toBe(true);
  });

  it('asks for a longer wait when the rate is below one per second', () => {
    const limiter = new ClinicRateLimiter(0.25, 1, now);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 4 });
  });

  it('is off at rate 0', () => {
    const limiter = new ClinicRateLimiter(0, 0, now);
    for (let i = 0; i < 1000; i++) expect(limiter.take('a').ok).toBe(true);
  });

  it('forgets the least recently used clinic beyond its bound (a fresh bucket is full)', () => {
    const limiter = new ClinicRateLimiter(1, 1, now, 2);
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // evicts a
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('c').ok).toBe(false);
  });
});
