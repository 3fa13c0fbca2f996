import { backoffDelay, pause } from './backoff';

describe('backoffDelay', () => {
  const options = { initialMs: 250, maxMs: 5_000 };

  it('doubles from the first wait up to the longest', () => {
    const middle = () => 0.5; // no spread
    expect([0, 1, 2, 3, 4, 5, 10, 1_000].map((a) => backoffDelay(a, options, middle))).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
  });

  it('spreads each wait by ±20 %', () => {
    expect(backoffDelay(2, options, () => 0)).toBe(800);
    expect(backoffDelay(2, options, () => 0.999_999)).toBe(1_200);
  });
});

describe('pause', () => {
  it('ends at once when its signal aborts', async () => {
    const stop = new AbortController();
    const started = Date.now();
    const paused = pause(60_000, stop.signal);
    stop.abort();
    await expect(paused).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
