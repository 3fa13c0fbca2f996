/**
 * Per-subscriber token buckets for `rate_limit_per_second`: a bucket holds up to one second's worth of
 * tokens (at least one) and refills continuously. A delivery that finds no token is not an attempt: the
 * caller puts it back with the wait this returns.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Takes a token for `key` and returns 0, or returns how many ms until one is available. */
  take(key: string, perSecond: number | null): number {
    if (!perSecond) return 0;
    const capacity = Math.max(1, perSecond);
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: capacity, at: t };
    b.tokens = Math.min(capacity, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / perSecond) * 1000);
  }
}
