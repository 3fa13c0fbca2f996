import { Pool } from 'undici';
import { LoadResult } from './load';
import { RequestMix } from './payloads';

/**
 * Open-loop load at a fixed rate with evenly spaced arrivals: request i is due at start + i/rate and is
 * sent then whether or not earlier ones have been answered (up to `connections` keep-alive connections;
 * more queue in the pool). Latency is measured from the due time, so a slow server cannot hide its
 * queueing (no coordinated omission).
 *
 * Why not autocannon here: its `overallRate` gives each connection a budget per second that it spends
 * back to back at the start of the second, so "500 req/s" arrives as bursts of 50 concurrent requests and
 * the figure measures the burst, not the rate. autocannon is still used for saturation.
 *
 * `progress` (optional) is kept up to date while the load runs (`newEvents` so far); an aborted `signal`
 * stops sending (what was sent is still awaited and counted).
 */
export async function runPaced(
  url: string,
  mix: RequestMix,
  opts: { rate: number; seconds: number; connections: number; signal?: AbortSignal; progress?: { newEvents: number } },
): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const total = Math.round(opts.rate * opts.seconds);
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let newEvents = 0;
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const send = (due: number) => {
    const r = mix.next();
    const p = pool
      .request({ path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': r.key }, body: r.body })
      .then(async (res) => {
        const text = await res.body.text();
        latencies.push(performance.now() - due);
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++;
          if (res.statusCode === 200 && !text.includes('"duplicate"')) {
            newEvents++;
            if (opts.progress) opts.progress.newEvents = newEvents;
          }
        } else non2xx++;
      })
      .catch(() => {
        errors++;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  let sent = 0;
  while (sent < total && !opts.signal?.aborted) {
    const now = performance.now();
    while (sent < total && start + (sent * 1000) / opts.rate <= now) send(start + (sent++ * 1000) / opts.rate);
    // Asleep until the next request is due (at least 1 ms): at 20 req/s a 1 ms poll would cost the
    // generator more CPU than the handler it measures.
    await new Promise((r) => setTimeout(r, Math.max(1, start + (sent * 1000) / opts.rate - performance.now())));
  }
  await Promise.all([...inFlight]);
  const seconds = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return {
    seconds: Math.round(seconds * 10) / 10,
    connections: opts.connections,
    targetRate: opts.rate,
    requests: sent,
    ok,
    non2xx,
    errors,
    timeouts: 0,
    newEvents,
    okPerSecond: Math.round(ok / seconds),
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(latencies[latencies.length - 1] ?? 0) },
  };
}
