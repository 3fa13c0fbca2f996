import { cpuSum, startCpuMeter } from '../lib/cpu';
import { log } from '../lib/log';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { sleep } from '../lib/procs';
import { startBareHttp } from './baselines';
import { PhaseContext } from './context';
import { runThroughIngress, warmUpFanout } from './through-ingress';

/** Requests of the load generator's own warm-up (against a bare handler, unmetered) before anything is measured. */
const GENERATOR_WARM_UP = { seconds: 3, rate: 300 };

/**
 * Quiet when quiet: `BENCH_QUIET_RATE` events/s (20) for `BENCH_QUIET_SECONDS` (20) through the whole stack,
 * and the CPU every process spent per event — timers, pollers and wake-ups included, since at this rate they
 * are most of it — next to the bare http handler's CPU per request (with its load generator) at the same rate
 * with the same paced generator.
 */
export async function quietPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  const { rate, seconds } = S.quiet;
  const paced = (url: string, secondsOfLoad: number, perSecond = rate) =>
    runPaced(url, new RequestMix(stack.keys), { connections: S.rateConnections, seconds: secondsOfLoad, rate: perSecond });
  if (await stack.ensureFanout()) await warmUpFanout(ctx, rate);
  // The load generator is this process, counted on both sides. Measured second, the bare handler found its
  // code optimized by the stack's 400 requests, while the stack's window paid for V8 compiling it (and for
  // the major GCs that came with it): 2.1–2.8 against 1.0–1.4 ms per request. Enough requests for V8 to
  // optimize it first, against a bare handler of their own.
  const warm = await startBareHttp(ctx);
  try {
    await paced(warm.url, GENERATOR_WARM_UP.seconds, GENERATOR_WARM_UP.rate);
  } finally {
    await stack.stop(warm.child);
  }
  await sleep(3000); // whatever the phase before left behind (lingering slots, GC) settles first
  // At rest first: what each process spends with no event at all (pollers, timers, heartbeats) — the floor
  // under the figure at `rate`, where it counts as (ms per s) ÷ rate per event.
  log(`quiet: the stack at rest for ${S.quiet.restSeconds} s`);
  const restMeter = startCpuMeter(stack.cpuGroups);
  await sleep(S.quiet.restSeconds * 1000);
  const rest = restMeter.stop(S.quiet.restSeconds); // its "per event" row is per second here
  // Both halves are measured in a steady state at `rate`: each first runs `leadInSeconds` at that rate
  // unmetered, right before its window, so that neither pays for a transition the other does not (the
  // stack's window came right after the pause at rest, the bare handler's one second after its start).
  log(`quiet: ${rate} events/s for ${S.quiet.leadInSeconds} s unmetered, then ${seconds} s metered, through the stack`);
  await warmUpFanout(ctx, rate, S.quiet.leadInSeconds);
  const run = await runThroughIngress(ctx, { rate, seconds, graceSeconds: S.knee.graceSeconds });

  const bare = await startBareHttp(ctx);
  try {
    log(`quiet: bare http handler at ${rate} req/s for ${S.quiet.leadInSeconds} s unmetered, then ${seconds} s metered`);
    await paced(bare.url, S.quiet.leadInSeconds);
    const meter = startCpuMeter({ 'bare http': () => (bare.child.proc.pid ? [bare.child.proc.pid] : []) });
    const load = await paced(bare.url, seconds);
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
      // The hops behind those figures: at this rate each message between processes wakes the one it goes to.
      stackWakesPerEvent: cpuSum(run.cpu.wakesPerEvent),
      bareWakesPerRequest: cpuSum(cpu.wakesPerEvent),
    };
  } finally {
    await stack.stop(bare.child);
  }
}
