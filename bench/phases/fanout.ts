import { CpuUse, startCpuMeter } from '../lib/cpu';
import { log } from '../lib/log';
import { StatementReport } from '../lib/pg-statements';
import { round1 } from '../lib/procs';
import { ReceiverStats } from '../lib/receiver-client';
import { countsSince, scrapeFirstAttempts } from '../lib/stages';
import { PhaseContext } from './context';

export interface DrainResult {
  events: number;
  expectedDeliveries: number;
  delivered: number;
  doubleDeliveries: number;
  stragglers: number;
  complete: boolean;
  firstToLastSeconds: number;
  /** Deliveries/s at the receiver, first delivery to last. */
  deliveriesPerSecond: number | null;
  eventsPerSecond: number | null;
  /** The most connections fan-out had open to the receiver at once: its requests in flight. */
  peakConnections: number;
  cpu: CpuUse;
  statements: StatementReport;
  /** Deliveries created during the drain by how their first attempt went (see scrapeFirstAttempts). */
  firstAttempts: Record<string, number>;
}

/**
 * A backlog drained by fan-out: `begin` makes the backlog reach a running fan-out (starts fan-out on a full
 * stream, or publishes into running replicas); CPU and statements are counted from when `begin` returns,
 * with the deliveries that arrive after that. Deliveries of events received before `since` (late retries of
 * an earlier phase) are left out.
 */
export async function measureDrain(ctx: PhaseContext, events: number, begin: () => Promise<void>, meterFrom: 'before' | 'after', since: number): Promise<DrainResult> {
  const { S, stack, statements } = ctx;
  const expected = events * S.subscribersPerClinic;
  await stack.receiver.reset(false, since);
  await statements.reset();
  let meter = meterFrom === 'before' ? startCpuMeter(stack.cpuGroups) : null;
  const attemptsBefore = await scrapeFirstAttempts(stack.fanoutMetricsUrls());
  await begin();
  const counted0 = meter ? 0 : await stack.receiver.count();
  meter ??= startCpuMeter(stack.cpuGroups);
  const complete = await stack.receiver.waitFor(expected, 180_000);
  const stats: ReceiverStats = await stack.receiver.stats();
  const deliveries = stats.count - counted0;
  const cpu = meter.stop(Math.round(deliveries / S.subscribersPerClinic), deliveries);
  const span = (stats.last - stats.first) / 1000;
  return {
    events,
    expectedDeliveries: expected,
    delivered: stats.count,
    doubleDeliveries: stats.duplicates,
    stragglers: stats.stragglers,
    complete,
    firstToLastSeconds: round1(span),
    deliveriesPerSecond: span > 0 ? Math.round((stats.count - 1) / span) : null,
    eventsPerSecond: span > 0 ? Math.round((stats.count - 1) / span / S.subscribersPerClinic) : null,
    peakConnections: stats.peakConnections,
    cpu,
    statements: await statements.read(deliveries),
    firstAttempts: countsSince(attemptsBefore, await scrapeFirstAttempts(stack.fanoutMetricsUrls())),
  };
}

/**
 * Fan-out at saturation: `BENCH_FANOUT_EVENTS` events published straight into the emptied stream with
 * fan-out stopped, then one fan-out started; deliveries/s first → last delivery at the receiver. CPU and
 * statements count from when fan-out reported ready (its start-up is not a delivery's cost).
 */
export async function drainFromStart(ctx: PhaseContext): Promise<DrainResult & { startupSeconds: number }> {
  const { S, stack } = ctx;
  await stack.freshStream();
  log(`fan-out: publishing ${S.fanoutEvents} events with fan-out stopped`);
  const since = Date.now();
  await stack.publishBacklog(S.fanoutEvents);
  const t0 = Date.now();
  let ready = 0;
  const drain = await measureDrain(
    ctx,
    S.fanoutEvents,
    async () => {
      await stack.start('fanout');
      ready = Date.now();
    },
    'after',
    since,
  );
  log(`fan-out: ${drain.deliveriesPerSecond} deliveries/s, at most ${drain.peakConnections} requests in flight`);
  return { ...drain, startupSeconds: round1((ready - t0) / 1000) };
}

export async function fanoutPhase(ctx: PhaseContext): Promise<void> {
  ctx.results.fanout = await drainFromStart(ctx);
}
