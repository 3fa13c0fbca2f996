import { log } from '../lib/log';
import { runBeforeEngine } from './before-engine';
import { PhaseContext } from './context';
import { warmUpIngress } from './ingress';
import { runThroughIngress, warmUpFanout } from './through-ingress';

/**
 * End to end at each of `BENCH_E2E_RATES` through ingress with one fan-out: latency, CPU per event and per
 * delivery, statements. With `BENCH_BEFORE_TREE`, the old engine's own e2e runs right before and right after
 * it (`results.beforeEngine`), and the Postgres goal divides by their mean. Fan-out is stopped while it runs
 * (its Postgres meter counts every backend on the machine) and warmed up again after; a run of it that fails
 * costs only itself (`results.beforeEngineErrors`, and the run exits 1), not this phase's own figures.
 */
export async function e2ePhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  if (S.beforeTree) {
    await beforeEngine(ctx, S.beforeTree, 'before');
    await warmUpIngress(ctx);
  }
  if (await stack.ensureFanout()) await warmUpFanout(ctx, S.e2eRates[0]!);
  results.endToEnd = {};
  for (const rate of S.e2eRates) {
    log(`end to end: ${rate} events/s for ${S.e2eSeconds} s, ${S.subscribersPerClinic} subscribers per clinic`);
    results.endToEnd[rate] = await runThroughIngress(ctx, { rate, seconds: S.e2eSeconds, graceSeconds: S.knee.graceSeconds });
  }
  if (S.beforeTree) await beforeEngine(ctx, S.beforeTree, 'after');
}

async function beforeEngine(ctx: PhaseContext, tree: string, when: 'before' | 'after'): Promise<void> {
  const { stack, results } = ctx;
  await stack.scale('fanout', 0);
  try {
    (results.beforeEngine ??= []).push(await runBeforeEngine(ctx, tree, when));
  } catch (err) {
    log(`the old engine's run ${when} the e2e phase failed: ${(err as Error).message}`);
    (results.beforeEngineErrors ??= {})[when] = (err as Error).message;
    (results.failed ??= {})[`e2e (the old engine ${when})`] = (err as Error).message; // the run exits 1, as for a failed phase
  }
}
