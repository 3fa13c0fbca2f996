import { cpuSum, startCpuMeter } from '../lib/cpu';
import { log } from '../lib/log';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { sleep } from '../lib/procs';
import { startBareHttp } from './baselines';
import { PhaseContext } from './context';
import { runThroughIngress, warmUpFanout } from './through-ingress';

/**
 * Quiet when quiet: `BENCH_QUIET_RATE` events/s (20) for `BENCH_QUIET_SECONDS` (20) through the whole stack,
 * and the CPU every process spent per event — timers, pollers and wake-ups included, since at this rate they
 * are most of it — next to the bare http handler's CPU per request (with its load generator) at the same rate
 * with the same paced generator.
 */
export async function quietPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  const { rate, seconds } = S.quiet;
  if (await stack.ensureFanout()) await warmUpFanout(ctx, rate);
  await sleep(3000); // whatever the phase before left behind (lingering slots, GC) settles first
  // At rest first: what each process spends with no event at all (pollers, timers, heartbeats) — the floor
  // under the figure at `rate`, where it counts as (ms per s) ÷ rate per event.
  log(`quiet: the stack at rest for ${S.quiet.restSeconds} s`);
  const restMeter = startCpuMeter(stack.cpuGroups);
  await sleep(S.quiet.restSeconds * 1000);
  const rest = restMeter.stop(S.quiet.restSeconds); // its "per event" row is per second here
  log(`quiet: ${rate} events/s for ${seconds} s through the stack`);
  const run = await runThroughIngress(ctx, { rate, seconds, graceSeconds: S.knee.graceSeconds });

  const bare = await startBareHttp(ctx);
  try {
    await sleep(1000);
    log(`quiet: bare http handler at ${rate} req/s for ${seconds} s`);
    const meter = startCpuMeter({ 'bare http': () => (bare.child.proc.pid ? [bare.child.proc.pid] : []) });
    const load = await runPaced(bare.url, new RequestMix(stack.keys), { connections: S.rateConnections, seconds, rate });
    const cpu = meter.stop(load.ok);
    const stackMs = cpuSum(run.cpu.msPerEvent);
    const bareMs = cpuSum(cpu.msPerEvent);
    results.quiet = {
      rate,
      seconds,
      stack: run,
      rest,
      stackMsPerEvent: stackMs,
      bare: { load, cpu },
      bareMsPerRequest: bareMs,
      ratio: bareMs > 0 ? Math.round((stackMs / bareMs) * 10) / 10 : null,
    };
  } finally {
    await stack.stop(bare.child);
  }
}
