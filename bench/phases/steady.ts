import { join } from 'node:path';
import { log } from '../lib/log';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { fileSize, liveHeapAfterFullGcs, round1, rssOf } from '../lib/procs';
import { PhaseContext } from './context';

/**
 * Memory over a steady phase: `BENCH_STEADY_RATE` events/s for `BENCH_STEADY_SECONDS` through one ingress
 * and one fan-out: RSS of each app at the start, by quarter, at the end and at its peak, and the live heap
 * after each full GC (the apps run with --trace-gc; one is forced after each quarter of the load), which is
 * what shows a leak.
 */
export async function steadyPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  await stack.ensureFanout();
  await stack.scale('ingress', 1);
  log(`steady: ${S.steadyRate} events/s for ${S.steadySeconds} s`);
  const apps = Object.fromEntries((['ingress', 'dedupe', 'fanout'] as const).map((app) => [app, stack.running(app)[0]!]));
  const sample = () => Object.fromEntries(Object.entries(apps).map(([k, c]) => [k, rssOf(c.proc.pid)?.rssMiB ?? null]));
  const startRss = sample();
  const appLog = (app: string) => join(stack.logDir, `${app}.log`);
  const logOffsets = Object.fromEntries(Object.keys(apps).map((k) => [k, fileSize(appLog(k))]));
  // A full GC in each app at the end of each quarter of the load: with a large young generation an app may
  // run none of its own in 120 s (dedupe did not), and its live heap is then still measured, warm (the first
  // quarter is where caches and connections fill up).
  const fullGcs = () => Promise.all(Object.values(apps).map((c) => stack.collectGarbage(c)));
  const quarterGcs = [1, 2, 3].map((q) => setTimeout(() => void fullGcs(), (q * S.steadySeconds * 1000) / 4));
  const maxRss: Record<string, number> = {};
  const series: Record<string, number[]> = {};
  const sampler = setInterval(() => {
    for (const [k, v] of Object.entries(sample())) {
      if (v === null) continue;
      maxRss[k] = Math.max(maxRss[k] ?? 0, v);
      (series[k] ??= []).push(v);
    }
  }, 1000);
  await stack.receiver.reset(true);
  const load = await runPaced(stack.ingressUrl(), new RequestMix(stack.keys), { connections: S.rateConnections, seconds: S.steadySeconds, rate: S.steadyRate });
  await stack.receiver.waitFor(load.newEvents * S.subscribersPerClinic, 30_000);
  clearInterval(sampler);
  quarterGcs.forEach(clearTimeout);
  await fullGcs();
  const endRss = sample();
  const stats = await stack.receiver.stats();
  results.steady = {
    rate: S.steadyRate,
    seconds: S.steadySeconds,
    ingress: load,
    endToEndMs: stats.latency,
    delivered: stats.count,
    expectedDeliveries: load.newEvents * S.subscribersPerClinic,
    doubleDeliveries: stats.duplicates,
    rssMiB: Object.fromEntries(
      Object.entries(apps).map(([k, c]) => [
        k,
        {
          start: startRss[k],
          // Each quarter's mean: a leak climbs through all four, a heap settling only in the first.
          quarters: quarterMeans(series[k] ?? []),
          end: endRss[k],
          maxDuringSteady: maxRss[k] ?? null,
          peakOfRun: rssOf(c.proc.pid)?.peakMiB ?? null,
          liveHeapAfterFullGcMB: liveHeapAfterFullGcs(appLog(k), logOffsets[k]!),
        },
      ]),
    ),
  };
}

/** The mean of each quarter of a series of samples, to one decimal. */
function quarterMeans(samples: number[]): number[] {
  if (samples.length < 4) return [];
  const q = Math.floor(samples.length / 4);
  return [0, 1, 2, 3].map((i) => {
    const part = samples.slice(i * q, i === 3 ? samples.length : (i + 1) * q);
    return round1(part.reduce((a, b) => a + b, 0) / part.length);
  });
}
