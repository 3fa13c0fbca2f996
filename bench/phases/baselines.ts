import { cpus } from 'node:os';
import { jetstreamPublishBaseline, postgresClaimBaselines } from '../lib/baselines';
import { CpuUse, cpuSum, startCpuMeter } from '../lib/cpu';
import { LoadResult, runLoad } from '../lib/load';
import { log } from '../lib/log';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { Child, rssOf } from '../lib/procs';
import { PhaseContext } from './context';

/** The bare node http handler (bench/bare-http.ts: parse JSON, check the key, 200), warmed up. */
export async function startBareHttp({ stack }: PhaseContext): Promise<{ child: Child; url: string }> {
  const child = await stack.startScript('bare-http', { BENCH_KEYS: stack.keys.join(',') });
  const url = `http://127.0.0.1:${child.port}/webhooks/nimbus`;
  await runLoad(url, new RequestMix(stack.keys), { connections: 20, seconds: 2 });
  return { child, url };
}

/**
 * What the ingress figures are compared with, measured in the same run: the bare http handler at saturation
 * and at each fixed rate, raw JetStream publish+ack, raw Postgres claim inserts, and the ceiling the first
 * two set for any ingress on this machine.
 */
export async function baselinesPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  const bare = await startBareHttp(ctx);
  log('baseline: bare http handler');
  const meter = startCpuMeter({ 'bare http': () => (bare.child.proc.pid ? [bare.child.proc.pid] : []) });
  const saturation = await runLoad(bare.url, new RequestMix(stack.keys), { connections: S.connections, seconds: S.saturationSeconds });
  const cpu = meter.stop(saturation.ok);
  const rates: Record<string, LoadResult> = {};
  for (const rate of S.rates) rates[rate] = await runPaced(bare.url, new RequestMix(stack.keys), { connections: S.rateConnections, seconds: S.rateSeconds, rate });
  results.bareHttp = { saturation, rates, rss: rssOf(bare.child.proc.pid), cpu };
  await stack.stop(bare.child);

  const payloadBytes = new RequestMix(stack.keys).meanBodyBytes();
  log(`baseline: JetStream publish+ack, ${S.connections} in flight, ${payloadBytes} B`);
  const nats = stack.cpuGroups['nats-server']!;
  const jsRaw = await jetstreamPublishBaseline(stack.config.NATS_URL, stack.name, payloadBytes, S.connections, S.baselineSeconds, () =>
    startCpuMeter({ 'nats-server': nats }),
  );
  results.jetstreamRaw = { ...jsRaw, payloadBytes, inFlight: S.connections };
  results.ceiling = ingressCeiling(results.bareHttp.cpu, results.jetstreamRaw.cpu, cpus().length);
  log('baseline: Postgres claim inserts');
  results.postgresRaw = await postgresClaimBaselines(stack.db.url, stack.name, S.baselineSeconds);
}

/**
 * The most events/s any ingress could accept here if it did nothing but what the two baselines do, the HTTP
 * request (load generator and handler) and the JetStream publish with its ack (client and nats-server), with
 * every core busy all the time: cores × 1,000 ms ÷ their CPU ms per event added up. Claiming the key, auth and
 * validation come on top, so the ingress ratio to raw JetStream cannot exceed this one.
 */
function ingressCeiling(bareCpu: CpuUse, jetstreamCpu: CpuUse, cores: number) {
  const msPerEvent = cpuSum(bareCpu.msPerEvent) + cpuSum(jetstreamCpu.msPerEvent);
  return { msPerEvent: Math.round(msPerEvent * 1000) / 1000, eventsPerSecond: msPerEvent > 0 ? Math.round((cores * 1000) / msPerEvent) : null };
}
