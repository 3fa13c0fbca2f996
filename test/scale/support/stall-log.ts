import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** The longest event-loop stall one process had in the interval ending at `at` (ms since epoch). */
export interface StallSample {
  source: string;
  at: number;
  maxMs: number;
}

/** How far before a window a stall can still push requests into it (its requests' tokens were taken before). */
const LOOKBACK_MS = 1_000;

/**
 * Event-loop stalls of the senders (the fan-outs) and of this test process (the receivers), sampled once
 * per `intervalMs`: a fan-out's `nodejs_eventloop_lag_max_seconds` (the longest delay since its last
 * scrape; prom-client resets it on each), and this process's own delay histogram, reset likewise. A stall
 * counts both kinds of lateness: code that held the loop, and a process the OS left waiting for a core.
 *
 * Requests spaced by a rate limiter arrive closer together than their tokens were granted when their
 * sender stalled between the grant and the write, or the receiver between their arrival and their
 * stamp; the rate check allows for what was measured here around each window (see rateExcess).
 */
export class StallLog {
  readonly samples: StallSample[] = [];
  private readonly own: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private timer?: NodeJS.Timeout;
  private sampling = false;

  constructor(
    /** Metrics URLs of the senders, by name (a process that is down is skipped for that interval). */
    private readonly senders: Array<{ name: string; metricsUrl: string }>,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.own.enable();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref(); // a test that fails before stop() must not be held open by it
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sample();
    this.own.disable();
  }

  /** The longest sender stall plus the longest receiver stall that can have compressed arrivals in [from, to]. */
  around(from: number, to: number): number {
    let sender = 0;
    let receiver = 0;
    for (const s of this.samples) {
      if (s.at <= from - LOOKBACK_MS || s.at - this.intervalMs >= to) continue;
      if (s.source === 'test process') receiver = Math.max(receiver, s.maxMs);
      else sender = Math.max(sender, s.maxMs);
    }
    return sender + receiver;
  }

  /** The longest stall of each source over the run, for the ledger's notes. */
  summary(): string {
    const worst = new Map<string, number>();
    for (const s of this.samples) worst.set(s.source, Math.max(worst.get(s.source) ?? 0, s.maxMs));
    return [...worst].map(([source, ms]) => `${source} ${Math.round(ms)} ms`).join(', ');
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const at = Date.now();
      this.samples.push({ source: 'test process', at, maxMs: this.own.max / 1e6 });
      this.own.reset();
      await Promise.all(
        this.senders.map(async ({ name, metricsUrl }) => {
          const maxMs = await lagMaxMs(metricsUrl);
          if (maxMs !== undefined) this.samples.push({ source: name, at: Date.now(), maxMs });
        }),
      );
    } finally {
      this.sampling = false;
    }
  }
}

async function lagMaxMs(metricsUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(await res.text());
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined; // killed, or starting again
  }
}
