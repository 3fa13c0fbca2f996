export interface BackoffOptions {
  /** Wait before the first retry. */
  initialMs: number;
  /** Longest wait between retries. */
  maxMs: number;
}

/** Quick first retries (a leader election takes a few seconds), then one try every few seconds. */
export const NATS_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5_000 };

/**
 * The wait before retry number `attempt` (0 for the first): doubling from `initialMs` up to `maxMs`,
 * spread ±20 % so that replicas which lost NATS at the same moment do not all come back in step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = NATS_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Resolves after `ms`, or at once when `signal` aborts (a shutdown does not wait out a backoff). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
