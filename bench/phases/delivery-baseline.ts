import { startCpuMeter } from '../lib/cpu';
import { ratio } from '../lib/goals';
import { log } from '../lib/log';
import { ask } from '../lib/procs';
import { PhaseContext } from './context';
import { DrainResult, drainFromStart } from './fanout';

/**
 * The delivery with nothing around it (bench/bare-delivery.ts): the same number of events of the same mix,
 * rendered, signed and POSTed to the same receiver's subscriber URLs, as many requests in flight as fan-out
 * had in its backlog drain: the receiver's peak of open connections, at most fan-out's DELIVERY_CONCURRENCY
 * (its places: connections beyond them are idle ones — a drain with 256 places keeps 512 open, as undici
 * opens another whenever an attempt starts on a host before the last one's connection is handed back), or
 * DELIVERY_CONCURRENCY when the fan-out phase did not run. Deliveries/s first → last at the receiver, and
 * CPU per delivery.
 *
 * When the `fanout` phase ran, its drain and this baseline are the first of `BENCH_DRAIN_ROUNDS` pairs: each
 * further pair drains a new backlog from a fresh fan-out, then runs the bare delivery again, so the drain
 * goal is the median of ratios each taken within a minute (`results.drainRounds`).
 */
export async function deliveryBaselinePhase(ctx: PhaseContext): Promise<void> {
  const { S, results } = ctx;
  results.deliveryBaseline = await bareDelivery(ctx);
  if (!results.fanout) return;
  // The drain and its baseline, again, in turns: one pair says as much about the machine's drift as about fan-out.
  // Written after every round, so a round that fails (the phase records why) leaves the ones before it.
  const rounds: DrainRound[] = (results.drainRounds = [pairOf(results.fanout, results.deliveryBaseline)]);
  for (let i = 1; i < S.drainRounds; i++) {
    log(`drain and bare delivery, round ${i + 1} of ${S.drainRounds}`);
    const drain = await drainFromStart(ctx);
    rounds.push(pairOf(drain, await bareDelivery(ctx)));
  }
}

/** A drain that did not deliver everything exactly once (a timeout, a double delivery) gives no ratio. */
function pairOf(drain: DrainResult, bare: BareDelivery): DrainRound {
  const whole = drain.complete && drain.delivered >= drain.expectedDeliveries && drain.doubleDeliveries === 0;
  return {
    drain: drain.deliveriesPerSecond,
    bare: bare.deliveriesPerSecond,
    concurrency: bare.concurrency,
    ratio: whole ? ratio(drain.deliveriesPerSecond, bare.deliveriesPerSecond) : null,
    expectedDeliveries: drain.expectedDeliveries,
    delivered: drain.delivered,
    doubleDeliveries: drain.doubleDeliveries,
    firstAttempts: drain.firstAttempts,
  };
}

/** One fan-out drain and the bare delivery right after it. */
export interface DrainRound {
  drain: number | null;
  bare: number | null;
  concurrency: number;
  /** drain ÷ bare; null when the drain did not deliver everything exactly once. */
  ratio: number | null;
  expectedDeliveries?: number;
  delivered?: number;
  doubleDeliveries?: number;
  /** The drain's deliveries by how their first attempt went (queued ones went through Postgres). */
  firstAttempts?: Record<string, number>;
}

type BareDelivery = Awaited<ReturnType<typeof bareDelivery>>;

async function bareDelivery(ctx: PhaseContext) {
  const { S, stack, results } = ctx;
  const observed = results.fanout?.peakConnections as number | undefined;
  const places = stack.config.DELIVERY_CONCURRENCY;
  const concurrency = observed && observed > 0 ? Math.min(observed, places) : places;
  const rows = await stack.query(`SELECT clinic_id, url, secret FROM subscribers ORDER BY clinic_id, url`);
  const byClinic = new Map<string, Array<{ url: string; secret: string }>>();
  for (const r of rows) byClinic.set(r.clinic_id, [...(byClinic.get(r.clinic_id) ?? []), { url: r.url, secret: r.secret }]);
  const clinics = [...byClinic].map(([id, subscribers]) => ({ id, subscribers }));

  const child = await stack.startScript('bare-delivery');
  try {
    await ask(child, { type: 'prepare', clinics, events: S.fanoutEvents, concurrency }, 'prepared');
    await stack.receiver.reset(false, Date.now()); // an earlier phase's late retries are not this baseline's
    log(`baseline: bare delivery (sign + POST), ${S.fanoutEvents * S.subscribersPerClinic} deliveries, ${concurrency} in flight`);
    const meter = startCpuMeter({ 'bare delivery': () => (child.proc.pid ? [child.proc.pid] : []), receiver: stack.cpuGroups.receiver! });
    const done = await ask<{ deliveries: number; failed: number; seconds: number }>(child, { type: 'go' }, 'done');
    const cpu = meter.stop(S.fanoutEvents, done.deliveries);
    const stats = await stack.receiver.stats();
    const span = (stats.last - stats.first) / 1000;
    const result = {
      concurrency,
      concurrencySource: observed ? 'fan-out drain (receiver peak connections)' : 'DELIVERY_CONCURRENCY',
      deliveries: done.deliveries,
      failed: done.failed,
      delivered: stats.count,
      seconds: Math.round(done.seconds * 10) / 10,
      deliveriesPerSecond: span > 0 ? Math.round((stats.count - 1) / span) : null,
      cpu,
    };
    log(`baseline: bare delivery ${result.deliveriesPerSecond} deliveries/s`);
    return result;
  } finally {
    await stack.stop(child);
  }
}
