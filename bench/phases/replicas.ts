import { log } from '../lib/log';
import { sleep } from '../lib/procs';
import { PhaseContext } from './context';
import { measureDrain } from './fanout';
import { ingressSaturation, warmUpIngress } from './ingress';

/**
 * Scale-out on this machine (issue 13): a backlog drained by 1, 2, 3 fan-out processes (`BENCH_REPLICAS`),
 * all on the same schema, stream and durable consumer, each with its own ops port; and ingress saturation
 * with 1, 2 processes (`BENCH_INGRESS_REPLICAS`) behind the one dedupe service, the load generator's
 * connections spread evenly over them. Each with the CPU every process spent per delivery / event: on a
 * machine with few cores, more processes share the same cores, and the figures say what that costs.
 */
export async function replicasPhase(ctx: PhaseContext): Promise<void> {
  const { S, stack, results } = ctx;
  results.replicas = { ingress: [], fanout: [] };

  await stack.scale('fanout', 0);
  for (const n of S.ingressReplicas) {
    await stack.scale('ingress', n);
    await warmUpIngress(ctx);
    log(`replicas: ingress saturation with ${n} process(es), ${S.connections} connections, ${S.saturationSeconds} s`);
    const sat = await ingressSaturation(ctx);
    results.replicas.ingress.push({ processes: n, saturation: sat.load, perProcessOkPerSecond: sat.perProcess.map((r) => r.okPerSecond), cpu: sat.cpu });
  }
  await stack.scale('ingress', 1);

  for (const n of S.replicas) {
    // Replicas first, then the backlog: all of them take part from the first message (a replica still
    // starting while the others drain would make the figure a race of start-up times).
    await stack.freshStream();
    await stack.scale('fanout', n);
    await sleep(1000);
    log(`replicas: ${S.replicaEvents} events published into ${n} running fan-out process(es)`);
    const drain = await measureDrain(ctx, S.replicaEvents, () => stack.publishBacklog(S.replicaEvents), 'before', Date.now());
    results.replicas.fanout.push({ processes: n, ...drain });
    log(`replicas: ${n} fan-out: ${drain.deliveriesPerSecond} deliveries/s`);
  }
  await stack.scale('fanout', Math.min(1, stack.running('fanout').length));
}
