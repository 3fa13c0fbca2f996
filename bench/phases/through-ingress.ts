import { CpuUse, startCpuMeter } from '../lib/cpu';
import { LoadResult } from '../lib/load';
import { runPaced } from '../lib/paced-load';
import { RequestMix } from '../lib/payloads';
import { StatementReport } from '../lib/pg-statements';
import { round1, sleep } from '../lib/procs';
import { PhaseContext } from './context';

export interface ThroughIngressResult {
  rate: number;
  seconds: number;
  ingress: LoadResult;
  expectedDeliveries: number;
  /** Deliveries that had arrived `graceSeconds` after the last request was due. */
  deliveredInGrace: number;
  delivered: number;
  doubleDeliveries: number;
  /** Deliveries of earlier phases' events that arrived during this one (late retries), left out of every figure. */
  stragglers: number;
  complete: boolean;
  /** From when the last request was due to the last delivery. */
  lastDeliveryAfterEndSeconds: number | null;
  latencyMs: { samples: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
  /** Set when the load was stopped early because deliveries fell too far behind (see `abortWhenLate`). */
  aborted: string | null;
  cpu: CpuUse;
  statements: StatementReport;
}

/**
 * Events at a fixed rate through ingress with fan-out running, `subscribersPerClinic` deliveries each: the
 * open-loop paced load, then a wait for every delivery (`graceSeconds` counted apart), with the CPU every
 * process spent per event and per delivery and the Postgres statements per delivery over the whole phase.
 *
 * With `abortWhenLate` the load stops as soon as the phase can no longer pass: once more than 1 % of the
 * phase's deliveries are provably later than `graceSeconds` (deliveries of events ingress accepted more than
 * `graceSeconds` ago that have not arrived), p99 end to end is above `graceSeconds` whatever comes next. It
 * keeps a failed phase of the knee search from leaving minutes of backlog behind.
 */
export async function runThroughIngress(
  ctx: PhaseContext,
  opts: { rate: number; seconds: number; graceSeconds: number; abortWhenLate?: boolean },
): Promise<ThroughIngressResult> {
  const { S, stack, statements } = ctx;
  const subs = S.subscribersPerClinic;
  await stack.receiver.reset(true);
  await statements.reset();
  const meter = startCpuMeter(stack.cpuGroups);
  const progress = { newEvents: 0 };
  const abort = new AbortController();
  let aborted: string | null = null;
  const t0 = performance.now();
  const loading = runPaced(stack.ingressUrl(), new RequestMix(stack.keys), {
    connections: S.rateConnections,
    seconds: opts.seconds,
    rate: opts.rate,
    signal: abort.signal,
    progress,
  });
  let loadDone = false;
  void loading.finally(() => (loadDone = true));
  if (opts.abortWhenLate) {
    const samples: Array<{ at: number; accepted: number }> = [];
    const allowedLate = 0.01 * opts.rate * opts.seconds * subs;
    while (!loadDone) {
      await sleep(250);
      const now = performance.now();
      samples.push({ at: now, accepted: progress.newEvents });
      const then = [...samples].reverse().find((s) => s.at <= now - opts.graceSeconds * 1000);
      if (!then) continue;
      const late = then.accepted * subs - (await stack.receiver.count());
      if (late > allowedLate) {
        aborted = `${late} deliveries more than ${opts.graceSeconds} s late after ${round1((now - t0) / 1000)} s`;
        abort.abort();
        break;
      }
    }
  }
  const ingress = await loading;
  const expected = ingress.newEvents * subs;
  const endDue = t0 + (ingress.requests / opts.rate) * 1000;
  const graceLeft = endDue + opts.graceSeconds * 1000 - performance.now();
  if (graceLeft > 0) await stack.receiver.waitFor(expected, graceLeft, graceLeft);
  const deliveredInGrace = await stack.receiver.count();
  const complete = deliveredInGrace >= expected || (await stack.receiver.waitFor(expected, 120_000));
  const stats = await stack.receiver.stats();
  const cpu = meter.stop(ingress.ok, stats.count);
  // Arrival times are the receiver's wall clock; the due time is this process's monotonic clock: relate them now.
  const endDueWall = Date.now() - (performance.now() - endDue);
  return {
    rate: opts.rate,
    seconds: opts.seconds,
    ingress,
    expectedDeliveries: expected,
    deliveredInGrace,
    delivered: stats.count,
    doubleDeliveries: stats.duplicates,
    stragglers: stats.stragglers,
    complete,
    lastDeliveryAfterEndSeconds: stats.last ? round1((stats.last - endDueWall) / 1000) : null,
    latencyMs: stats.latency,
    aborted,
    cpu,
    statements: await statements.read(stats.count),
  };
}

/**
 * JIT, pools, the subscriber cache and the slots of a fan-out that just started: `seconds` of events at `rate`
 * through the stack, waited for, not measured.
 */
export async function warmUpFanout(ctx: PhaseContext, rate: number, seconds = 5): Promise<void> {
  const { S, stack } = ctx;
  await stack.receiver.reset(false);
  const load = await runPaced(stack.ingressUrl(), new RequestMix(stack.keys), { connections: S.rateConnections, seconds, rate });
  await stack.receiver.waitFor(load.newEvents * S.subscribersPerClinic, 60_000);
}
