import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('lets a burst of one second through, then one token per 1/rate', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    expect([1, 2].map(() => limiter.take('s', 2))).toEqual([0, 0]);
    expect(limiter.take('s', 2)).toBe(500);
    now = 500;
    expect(limiter.take('s', 2)).toBe(0);
    expect(limiter.take('other', 2)).toBe(0);
  });

  it('never limits a subscriber without a rate', () => {
    const limiter = new RateLimiter(() => 0);
    expect(Array.from({ length: 100 }, () => limiter.take('s', null)).every((w) => w === 0)).toBe(true);
  });
});
