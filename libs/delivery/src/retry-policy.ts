/**
 * When to try again: the first attempt is immediate, attempt n+1 follows attempt n after schedule[n-1]
 * (Nimbus's own 1m, 5m, 15m, 1h by default) with up to ±jitter of it, so that a burst of failures does not
 * come back as a burst. After the last delay's attempt fails, the delivery is dead-lettered.
 */
export class RetryPolicy {
  constructor(
    readonly schedule: number[],
    readonly jitter: number,
    private readonly random: () => number = Math.random,
  ) {}

  get maxAttempts(): number {
    return this.schedule.length + 1;
  }

  /** The delay before the next attempt after `failedAttempt` (1-based) failed, or null when none is left. */
  delayAfter(failedAttempt: number, retryAfterMs?: number): number | null {
    const base = this.schedule[failedAttempt - 1];
    if (base === undefined) return null;
    const jittered = base * (1 + this.jitter * (2 * this.random() - 1));
    // A receiver's Retry-After is honoured within the schedule's bounds: never sooner than this step,
    // never later than the longest step.
    const honoured = retryAfterMs !== undefined ? Math.min(retryAfterMs, Math.max(...this.schedule)) : 0;
    return Math.round(Math.max(jittered, honoured));
  }
}
