import { loadConfig } from '@switchyard/config';
import { RetryPolicy } from './retry-policy';

describe('RetryPolicy', () => {
  it("uses Nimbus's schedule by default: immediately, then 1m, 5m, 15m, 1h, then dead", () => {
    const policy = new RetryPolicy(loadConfig({}).RETRY_SCHEDULE, 0);
    expect(policy.maxAttempts).toBe(5);
    expect([1, 2, 3, 4].map((n) => policy.delayAfter(n))).toEqual([60_000, 300_000, 900_000, 3_600_000]);
    expect(policy.delayAfter(5)).toBeNull();
  });

  it('keeps jitter within ±10 %', () => {
    const low = new RetryPolicy([60_000], 0.1, () => 0);
    const high = new RetryPolicy([60_000], 0.1, () => 0.999999);
    expect(low.delayAfter(1)).toBe(54_000);
    expect(high.delayAfter(1)).toBe(66_000);
  });

  it('honours Retry-After within the bounds of the schedule', () => {
    const policy = new RetryPolicy([1_000, 5_000], 0);
    expect(policy.delayAfter(1, 3_000)).toBe(3_000);
    expect(policy.delayAfter(1, 500)).toBe(1_000);
    expect(policy.delayAfter(1, 3_600_000)).toBe(5_000);
  });
});
