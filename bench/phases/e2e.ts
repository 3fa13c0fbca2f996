import { log } from '../lib/log';
import { runBeforeEngine } from './before-engine';
import { PhaseContext } from './context';
import { runThroughIngress, warmUpFanout } from './through-ingress';

/**
 * End to end at each of `BENCH_E2E_RATES` through ingress with one fan-out: latency, CPU per event and per
 * delivery, statements. With `BENCH_BEFORE_TREE`, the old engine's own e2e runs right before and right after
 * it (`results.beforeEngine`), and the Postgres goal divides by their mean.
 */
export async function e2ePhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  if (S.beforeTree) results.beforeEngine = [await runBeforeEngine(ctx, S.beforeTree, 'before')];
  if (await stack.ensureFanout()) await warmUpFanout(ctx, S.e2eRates[0]!);
  results.endToEnd = {};
  for (const rate of S.e2eRates) {
    log(`end to end: ${rate} events/s for ${S.e2eSeconds} s, ${S.subscribersPerClinic} subscribers per clinic`);
    results.endToEnd[rate] = await runThroughIngress(ctx, { rate, seconds: S.e2eSeconds, graceSeconds: S.knee.graceSeconds });
  }
  if (S.beforeTree) results.beforeEngine.push(await runBeforeEngine(ctx, S.beforeTree, 'after'));
}
