import { Results } from '../phases/context';
import { cpuSum } from './cpu';

/**
 * The figures docs/CAPACITY.md quotes, named as its placeholders (`<figure from bench run: NAME>`), so a run's
 * output fills the page without arithmetic. A figure whose phase did not run is `—`.
 */
export function capacityFigures(r: Results): Array<[string, string]> {
  const v = (x: number | null | undefined, unit = '') => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${x.toLocaleString('en-US')}${unit}`);
  const per1000 = (ms: number | null | undefined) => (ms ? Math.round(1000 / ms) : null);
  const knee = r.knee?.atKnee;
  const statements = knee?.statements && !('unavailable' in knee.statements) ? knee.statements : null;
  const fanPg = r.fanout?.cpu?.msPerDelivery?.postgres as number | undefined;
  const kneePg = knee?.cpu?.msPerDelivery?.postgres as number | undefined;
  const rss = (app: string) => {
    const m = r.steady?.rssMiB?.[app];
    return m ? `${v(Math.min(...(m.quarters?.length ? m.quarters : [m.start])))}–${v(m.maxDuringSteady)}` : '—';
  };
  const list = <T>(xs: T[] | undefined, f: (x: T) => string) => (xs && xs.length > 0 ? xs.map(f).join(' / ') : '—');
  return [
    ['machine, cores, date', `${r.machine.cpuModel}, ${r.machine.cpus} cores, ${r.date.slice(0, 10)}`],
    ['cores', String(r.machine.cpus)],
    ['knee, ingress CPU ms per event', v(knee?.cpu?.msPerEvent?.ingress)],
    ['knee, dedupe CPU ms per event', v(knee?.cpu?.msPerEvent?.dedupe)],
    ['knee, fan-out CPU ms per delivery', v(knee?.cpu?.msPerDelivery?.fanout)],
    ['knee, Postgres CPU ms per delivery', v(kneePg)],
    ['knee, Postgres statements per delivery', v(statements?.callsPerDelivery)],
    ['knee, Postgres exec ms per delivery', v(statements?.execMsPerDelivery)],
    ['knee, WAL bytes per delivery', v(statements?.walBytesPerDelivery)],
    ['1000 ÷ knee Postgres CPU ms per delivery', v(per1000(kneePg))],
    ['ingress saturation, ingress CPU ms per event', v(r.ingress?.cpu?.saturation?.msPerEvent?.ingress)],
    ['fanout, fan-out CPU ms per delivery', v(r.fanout?.cpu?.msPerDelivery?.fanout)],
    ['fanout, Postgres CPU ms per delivery', v(fanPg)],
    ['1000 ÷ fanout Postgres CPU ms per delivery', v(per1000(fanPg))],
    ['replicas, ingress saturation with 1 / 2 processes', list(r.replicas?.ingress, (x: Results) => v(x.saturation.okPerSecond))],
    ['replicas, drain deliveries/s with 1 / 2 / 3 fan-out processes', list(r.replicas?.fanout, (x: Results) => v(x.deliveriesPerSecond))],
    ['replicas, total CPU ms per delivery with 1 / 2 / 3', list(r.replicas?.fanout, (x: Results) => v(cpuSum(x.cpu.msPerDelivery)))],
    ['steady, ingress RSS', rss('ingress')],
    ['steady, dedupe RSS', rss('dedupe')],
    ['steady, fanout RSS', rss('fanout')],
  ];
}
