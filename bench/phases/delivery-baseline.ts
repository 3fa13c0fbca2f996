import { startCpuMeter } from '../lib/cpu';
import { log } from '../lib/log';
import { ask } from '../lib/procs';
import { PhaseContext } from './context';

/**
 * The delivery with nothing around it (bench/bare-delivery.ts): the same number of events of the same mix,
 * rendered, signed and POSTed to the same receiver's subscriber URLs, as many requests in flight as fan-out
 * had in its backlog drain: the receiver's peak of open connections, at most fan-out's DELIVERY_CONCURRENCY
 * (its places: connections beyond them are idle ones — a drain with 256 places keeps 512 open, as undici
 * opens another whenever an attempt starts on a host before the last one's connection is handed back), or
 * DELIVERY_CONCURRENCY when the fan-out phase did not run. Deliveries/s first → last at the receiver, and
 * CPU per delivery.
 */
export async function deliveryBaselinePhase(ctx: PhaseContext): Promise<void> {
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
    results.deliveryBaseline = {
      concurrency,
      concurrencySource: observed ? 'fan-out drain (receiver peak connections)' : 'DELIVERY_CONCURRENCY',
      deliveries: done.deliveries,
      failed: done.failed,
      delivered: stats.count,
      seconds: Math.round(done.seconds * 10) / 10,
      deliveriesPerSecond: span > 0 ? Math.round((stats.count - 1) / span) : null,
      cpu,
    };
    log(`baseline: bare delivery ${results.deliveryBaseline.deliveriesPerSecond} deliveries/s`);
  } finally {
    await stack.stop(child);
  }
}
