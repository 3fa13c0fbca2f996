import { CpuUse, startCpuMeter } from '../lib/cpu';
import { P99_GOAL_RATE, P99Pair, ratio } from '../lib/goals';
import { LoadResult, runLoad } from '../lib/load';
import { log } from '../lib/log';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { scrapeStages, stageMeans, stageTails } from '../lib/stages';
import { startBareHttp } from './baselines';
import { PhaseContext } from './context';

/** The stages' totals so far, from ingress's and dedupe's metrics (bench/lib/stages.ts). */
const stagesOf = ({ stack }: PhaseContext) => scrapeStages(stack.metricsUrl('ingress'), stack.metricsUrl('dedupe'));

/** JIT, connection pools, the auth cache: a few seconds of load on every running ingress. */
export async function warmUpIngress({ stack }: PhaseContext): Promise<void> {
  await Promise.all(stack.running('ingress').map((_, i) => runLoad(stack.ingressUrl(i + 1), new RequestMix(stack.keys), { connections: 20, seconds: 3 })));
}

/**
 * Ingress saturation: `connections` closed-loop connections for `seconds`, spread evenly over every running
 * ingress process (one autocannon per process, run together), fan-out stopped; accepted events/s summed and
 * the CPU each process spent per event.
 */
export async function ingressSaturation({ S, stack }: PhaseContext): Promise<{ load: LoadResult; cpu: CpuUse; perProcess: LoadResult[] }> {
  const n = stack.running('ingress').length;
  const meter = startCpuMeter(stack.cpuGroups);
  const perProcess = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      runLoad(stack.ingressUrl(i + 1), new RequestMix(stack.keys), { connections: Math.max(1, Math.round(S.connections / n)), seconds: S.saturationSeconds }),
    ),
  );
  const sum = (f: (r: LoadResult) => number) => perProcess.reduce((a, r) => a + f(r), 0);
  const load: LoadResult = {
    ...perProcess[0]!,
    connections: sum((r) => r.connections),
    requests: sum((r) => r.requests),
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    newEvents: sum((r) => r.newEvents),
    okPerSecond: sum((r) => r.okPerSecond),
    // Latency percentiles of several generators do not add up: the worst process's stand for the whole.
    latencyMs: perProcess.map((r) => r.latencyMs).reduce((a, b) => (b.p99 > a.p99 ? b : a)),
  };
  return { load, cpu: meter.stop(load.ok), perProcess };
}

/**
 * Ingress alone (fan-out stopped): saturation, then open-loop paced load at each of `BENCH_RATES`, each with
 * the mean of every stage from the apps' own histograms and the CPU every process spent per event.
 */
export async function ingressPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  await stack.scale('fanout', 0);
  await stack.scale('ingress', 1);
  // Again right before it is measured: idle during the baselines, V8's memory reducer shrank the young
  // generation and the first seconds of load ran at 0.235 instead of 0.21 ms of ingress CPU per event.
  await warmUpIngress(ctx);
  log(`ingress: saturation, ${S.connections} connections, ${S.saturationSeconds} s`);
  let before = await stagesOf(ctx);
  const sat = await ingressSaturation(ctx);
  const cpu: Record<string, CpuUse> = { saturation: sat.cpu };
  const stageMs: Record<string, ReturnType<typeof stageMeans>> = {};
  const stageTail: Record<string, ReturnType<typeof stageTails>> = {};
  const stagesSince = async (phase: string) => {
    const after = await stagesOf(ctx);
    stageMs[phase] = stageMeans(before, after);
    stageTail[phase] = stageTails(before, after);
    before = after;
  };
  await stagesSince('saturation');
  const rates: Record<string, LoadResult> = {};
  for (const rate of S.rates) {
    log(`ingress: ${rate} req/s for ${S.rateSeconds} s`);
    const meter = startCpuMeter(stack.cpuGroups);
    rates[rate] = await runPaced(stack.ingressUrl(), new RequestMix(stack.keys), { connections: S.rateConnections, seconds: S.rateSeconds, rate });
    cpu[rate] = meter.stop(rates[rate].ok);
    await stagesSince(String(rate));
  }
  results.ingress = { saturation: sat.load, rates, stageMs, stageTail, cpu };
  if (S.p99Rounds > 0) results.ingress.p99Pairs = await p99InTurns(ctx, P99_GOAL_RATE);
}

/**
 * `BENCH_P99_ROUNDS` pairs of the bare handler, then ingress, at `rate` for `BENCH_RATE_SECONDS` each, each
 * warmed up right before its load: the p99 goal's figure and baseline from seconds apart, not from the
 * `baselines` phase minutes earlier. A p99 of a few thousand requests moves with one pause of either process,
 * so the goal takes the median pair.
 */
async function p99InTurns(ctx: PhaseContext, rate: number): Promise<P99Pair[]> {
  const { S, stack } = ctx;
  const paced = (url: string) => runPaced(url, new RequestMix(stack.keys), { connections: S.rateConnections, seconds: S.rateSeconds, rate });
  const pairs: P99Pair[] = [];
  for (let i = 0; i < S.p99Rounds; i++) {
    log(`ingress p99 at ${rate} req/s, pair ${i + 1} of ${S.p99Rounds}: the bare handler, then ingress, ${S.rateSeconds} s each`);
    const bare = await startBareHttp(ctx);
    let bareP99: number;
    try {
      bareP99 = (await paced(bare.url)).latencyMs.p99;
    } finally {
      await stack.stop(bare.child);
    }
    await warmUpIngress(ctx); // idle while the bare handler ran, as the bare handler is warmed up when it starts
    const before = await stagesOf(ctx);
    const ingressP99 = (await paced(stack.ingressUrl())).latencyMs.p99;
    const after = await stagesOf(ctx);
    pairs.push({ ingressP99, bareP99, ratio: ratio(ingressP99, Math.max(1, bareP99), 1)!, stageTail: stageTails(before, after) });
  }
  return pairs;
}
