import { sleep } from './procs';

export interface ReceiverStats {
  count: number;
  duplicates: number;
  /** Deliveries of events received before the reset's `since` (an earlier phase's late retries), not in `count`. */
  stragglers: number;
  /** Arrival of the first and last delivery since the reset (ms since the epoch). */
  first: number;
  last: number;
  /** The most connections carrying deliveries that were open at once since the reset. */
  peakConnections: number;
  latency: { samples: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
}

/** The bench's side of `bench/receiver.ts`: reset it, read its counters, wait for deliveries. */
export class ReceiverClient {
  constructor(readonly url: string) {}

  /**
   * Zeroes the counters; `record` also records each delivery's end-to-end latency (CloudEvents `time` →
   * arrival). Deliveries of events received before `since` (default: now when recording, else no limit) are
   * counted apart as stragglers of earlier phases.
   */
  async reset(record: boolean, since?: number): Promise<void> {
    const query = new URLSearchParams({ ...(record ? { record: '1' } : {}), ...(since !== undefined ? { since: String(since) } : {}) });
    await fetch(`${this.url}/__reset?${query}`, { method: 'POST' });
  }

  async stats(): Promise<ReceiverStats> {
    return (await fetch(`${this.url}/__stats`)).json() as Promise<ReceiverStats>;
  }

  async count(): Promise<number> {
    return ((await (await fetch(`${this.url}/__count`)).json()) as { count: number }).count;
  }

  /** Waits until `expected` deliveries arrived; false after `timeoutMs`, or after `stallMs` without a new one. */
  async waitFor(expected: number, timeoutMs: number, stallMs = 10_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    let lastCount = -1;
    let lastChange = Date.now();
    while (Date.now() < end) {
      const count = await this.count();
      if (count >= expected) return true;
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > stallMs) return false;
      await sleep(100);
    }
    return false;
  }
}
