import { log } from '../lib/log';
import { sleep } from '../lib/procs';
import { PhaseContext } from './context';
import { ingressSaturation, warmUpIngress } from './ingress';
import { ThroughIngressResult, runThroughIngress, warmUpFanout } from './through-ingress';

export interface KneeStep extends ThroughIngressResult {
  passed: boolean;
  /** Why it did not pass (empty when it did). */
  reasons: string[];
}

/**
 * The knee: the highest rate through ingress (3 subscribers per clinic, one fan-out) at which nothing
 * queues up — every delivery arrived within `BENCH_KNEE_GRACE_SECONDS` of the end of a `BENCH_KNEE_SECONDS`
 * phase, p99 end to end and p99 of ingress's answers under `BENCH_KNEE_P99_MS`, no request failed.
 *
 * Its baseline, ingress-alone saturation, is measured right before the search and again right after it
 * (fan-out stopped both times), and the goal divides by their mean: this machine's speed moves by 10–30 %
 * within minutes, so a saturation measured at another time of the run (the `ingress` phase's) would put
 * that drift into the ratio.
 *
 * Search: from `BENCH_KNEE_START` (default a third of the saturation just measured: the goal), doubling
 * while phases pass (never above that saturation, which no rate through ingress can exceed), halving
 * while they fail, then bisecting between the best pass and the lowest failure, at most
 * `BENCH_KNEE_MAX_PHASES` phases, stopping early once the two are within 5 %. The knee is the best pass.
 */
export async function kneePhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  const before = await saturationAlone(ctx, 'before');
  const cap = Math.max(1, before.load.okPerSecond);
  let rate = Math.min(cap, Math.max(1, Math.round(S.knee.start || cap / 3)));
  if (await stack.ensureFanout()) await warmUpFanout(ctx, Math.max(1, Math.round(rate / 2)));
  let best: number | null = null;
  let lowestFail: number | null = null;
  const steps: KneeStep[] = [];
  for (let i = 0; i < S.knee.maxPhases; i++) {
    log(`knee ${i + 1}/${S.knee.maxPhases}: ${rate} events/s for ${S.knee.seconds} s`);
    const step = judge(await runThroughIngress(ctx, { rate, seconds: S.knee.seconds, graceSeconds: S.knee.graceSeconds, abortWhenLate: true }), S.knee.p99Ms);
    steps.push(step);
    log(`knee: ${rate} events/s ${step.passed ? 'sustained' : `not sustained (${step.reasons.join('; ')})`}`);
    if (step.passed) best = Math.max(best ?? 0, rate);
    else lowestFail = Math.min(lowestFail ?? Infinity, rate);
    const next =
      lowestFail === null ? Math.min(cap, rate * 2) : best === null ? Math.max(1, Math.floor(rate / 2)) : Math.round((best + lowestFail) / 2);
    const narrow = best !== null && lowestFail !== null && lowestFail - best <= Math.max(1, 0.05 * best);
    if (next === rate || narrow || (lowestFail === null && rate >= cap) || (best === null && rate <= 1)) break;
    rate = next;
    await sleep(2000); // let the last phase's stragglers (slot linger, GC) settle
  }
  const after = await saturationAlone(ctx, 'after');
  const saturation = Math.round((before.load.okPerSecond + after.load.okPerSecond) / 2);
  results.kneeSaturation = { before, after };
  const at = steps.find((s) => s.passed && s.rate === best) ?? null;
  results.knee = {
    eventsPerSecond: best,
    lowestFailure: lowestFail,
    ingressSaturation: saturation,
    saturationBeforeAfter: [before.load.okPerSecond, after.load.okPerSecond],
    settings: S.knee,
    steps,
    atKnee: at,
  };
}

/** Ingress-alone saturation with fan-out stopped (the stream's backlog from it is dropped when fan-out starts again on a fresh one). */
async function saturationAlone(ctx: PhaseContext, when: 'before' | 'after'): Promise<Awaited<ReturnType<typeof ingressSaturation>>> {
  const { S, stack } = ctx;
  await stack.scale('fanout', 0);
  await warmUpIngress(ctx);
  log(`knee: ingress-alone saturation ${when} the search (fan-out stopped), ${S.saturationSeconds} s`);
  return ingressSaturation(ctx);
}

/** Whether a phase sustained its rate, and if not, why. */
function judge(r: ThroughIngressResult, p99Ms: number): KneeStep {
  const reasons: string[] = [];
  if (r.aborted) reasons.push(`stopped early: ${r.aborted}`);
  if (r.deliveredInGrace < r.expectedDeliveries) reasons.push(`${r.expectedDeliveries - r.deliveredInGrace} of ${r.expectedDeliveries} deliveries later than the grace`);
  if ((r.latencyMs.p99 ?? Infinity) >= p99Ms) reasons.push(`p99 end to end ${r.latencyMs.p99} ms`);
  if (r.ingress.latencyMs.p99 >= p99Ms) reasons.push(`p99 of ingress answers ${r.ingress.latencyMs.p99} ms`);
  if (r.ingress.errors > 0 || r.ingress.non2xx > 0.01 * r.ingress.requests) reasons.push(`${r.ingress.errors} errors, ${r.ingress.non2xx} non-2xx answers`);
  if (r.doubleDeliveries > 0) reasons.push(`${r.doubleDeliveries} double deliveries`);
  return { ...r, passed: reasons.length === 0, reasons };
}
