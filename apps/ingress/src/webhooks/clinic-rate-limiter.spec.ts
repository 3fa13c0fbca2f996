import { ClinicRateLimiter } from './clinic-rate-limiter';

describe('ClinicRateLimiter', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000_000));

  it('allows the burst, then refuses with a Retry-After until tokens refill', () => {
    const limiter = new ClinicRateLimiter(now);
    const rate = { ratePerSecond: 2, burst: 3 };
    expect([1, 2, 3].map(() => limiter.take('a', rate).ok)).toEqual([true, true, true]);
    expect(limiter.take('a', rate)).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock += 500; // 2/s → one token back
    expect(limiter.take('a', rate).ok).toBe(true);
    expect(limiter.take('a', rate).ok).toBe(false);
  });

  it('keeps one bucket per clinic, each at its own rate', () => {
    const limiter = new ClinicRateLimiter(now);
    expect(limiter.take('a', { ratePerSecond: 1, burst: 1 }).ok).toBe(true);
    expect(limiter.take('a', { ratePerSecond: 1, burst: 1 }).ok).toBe(false);
    expect([1, 2, 3].map(() => limiter.take('b', { ratePerSecond: 10, burst: 3 }).ok)).toEqual([true, true, true]);
  });

  it('follows a clinic whose rate changed: the bucket keeps its tokens, capped at the new burst', () => {
    const limiter = new ClinicRateLimiter(now);
    expect(limiter.take('a', { ratePerSecond: 100, burst: 100 }).ok).toBe(true);
    expect([1, 2, 3].map(() => limiter.take('a', { ratePerSecond: 1, burst: 2 }).ok)).toEqual([true, true, false]);
  });

  it('asks for a longer wait when the rate is below one per second', () => {
    const limiter = new ClinicRateLimiter(now);
    const rate = { ratePerSecond: 0.25, burst: 1 };
    expect(limiter.take('a', rate).ok).toBe(true);
    expect(limiter.take('a', rate)).toEqual({ ok: false, retryAfterSeconds: 4 });
  });

  it('lets a clinic with rate 0 through unlimited', () => {
    const limiter = new ClinicRateLimiter(now);
    for (let i = 0; i < 1000; i++) expect(limiter.take('a', { ratePerSecond: 0, burst: 1 }).ok).toBe(true);
  });

  it('forgets the least recently used clinic beyond its bound (a fresh bucket is full)', () => {
    const limiter = new ClinicRateLimiter(now, 2);
    const rate = { ratePerSecond: 1, burst: 1 };
    limiter.take('a', rate);
    limiter.take('b', rate);
    limiter.take('c', rate); // evicts a
    expect(limiter.take('a', rate).ok).toBe(true);
    expect(limiter.take('c', rate).ok).toBe(false);
  });
});
