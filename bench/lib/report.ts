import { Results } from '../phases/context';
import { capacityFigures } from './capacity';
import { CpuUse, cpuSum } from './cpu';
import { Goal, P99_GOAL_RATE, P99Pair, saturationAround } from './goals';
import { LoadResult } from './load';
import { StatementReport } from './pg-statements';

type Row = [string, string, string, string];

export const fmt = (v: unknown, unit = '') => (v === null || v === undefined ? '—' : `${typeof v === 'number' ? v.toLocaleString('en-US') : v}${unit}`);
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? Math.round((a / b) * 100) / 100 : null);

/** `ingress 0.4, fanout 0.5, …; total 0.9`: each process group's figure (those above zero) and their sum. */
const byGroup = (row: Record<string, number | null>) =>
  `${Object.entries(row)
    .filter(([, v]) => v !== null && v > 0)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ')}; total ${fmt(cpuSum(row))}`;

/** Each process group's CPU ms per event (or per delivery), the total, and how busy the machine was. */
function cpuRow(cpu: CpuUse | undefined, per: 'event' | 'delivery' = 'event', label = `  CPU ms per ${per}`): Row[] {
  const row = per === 'event' ? cpu?.msPerEvent : cpu?.msPerDelivery;
  if (!cpu || !row) return [];
  return [[`${label} (machine ${cpu.machineBusyPercent} % busy)`, byGroup(row), '', '']];
}

/** Each process group's wake-ups per event (see `wakesOf` in cpu.ts): at a low rate, the hops an event makes. */
function wakesRow(cpu: CpuUse | undefined, label: string): Row[] {
  return cpu?.wakesPerEvent ? [[label, byGroup(cpu.wakesPerEvent), '', '']] : [];
}

/** Postgres statements per delivery of a phase, and (with `top`) the statements run most often. */
function statementRows(s: StatementReport | undefined, top = 0): Row[] {
  if (!s) return [];
  if ('unavailable' in s) return [['  Postgres statements per delivery', `n/a (${s.unavailable})`, '', '']];
  const rows: Row[] = [
    [
      '  Postgres statements per delivery',
      `${fmt(s.callsPerDelivery)} calls, ${fmt(s.execMsPerDelivery)} ms executing, ${fmt(s.walBytesPerDelivery)} B WAL`,
      '',
      '',
    ],
  ];
  for (const t of s.top.slice(0, top)) rows.push([`    ${fmt(t.perDelivery)} per delivery, ${fmt(t.meanMs)} ms each`, t.query, '', '']);
  return rows;
}

function ingressRows(r: Results): Row[] {
  const rows: Row[] = [];
  const sat = r.ingress?.saturation as LoadResult | undefined;
  const bare = r.bareHttp;
  rows.push(['ingress accepted events/s (saturation)', fmt(sat?.okPerSecond), `bare http ${fmt(bare?.saturation.okPerSecond)}`, fmt(ratio(sat?.okPerSecond, bare?.saturation.okPerSecond))]);
  rows.push(['  same, vs raw JetStream publish+ack', '', `${fmt(r.jetstreamRaw?.perSecond)} msg/s`, fmt(ratio(sat?.okPerSecond, r.jetstreamRaw?.perSecond))]);
  rows.push(['  same, vs raw PG claim insert (8 conc.)', '', `${fmt(r.postgresRaw?.single.perSecond)} rows/s`, fmt(ratio(sat?.okPerSecond, r.postgresRaw?.single.perSecond))]);
  rows.push(['  same, vs raw PG batched claims (unnest)', '', `${fmt(r.postgresRaw?.batched.perSecond)} rows/s`, fmt(ratio(sat?.okPerSecond, r.postgresRaw?.batched.perSecond))]);
  rows.push(['  ingress non-2xx / errors at saturation', `${fmt(sat?.non2xx)} / ${fmt(sat?.errors)}`, '', '']);
  const stage = (phase: string) => {
    const m = r.ingress?.stageMs?.[phase];
    return m ? `server ${fmt(m.server)} = claim ${fmt(m.claim)} (db ${fmt(m.claimDb)}) + publish ${fmt(m.publish)} + rest (ms, means)` : '';
  };
  const tail = (t: Record<string, number[] | null> | undefined) =>
    t
      ? (['server', 'claim', 'publish', 'claimDb'] as const)
          .map((k) => `${k === 'claimDb' ? 'db' : k} ${t[k] ? t[k]!.map((x) => fmt(x)).join(' / ') : '—'}`)
          .join(', ') + ' (% over 10 / 25 ms)'
      : '';
  const stageRows = (phase: string, label: string): Row[] => {
    const rows: Row[] = [];
    if (r.ingress?.stageMs?.[phase]) rows.push([`  where the time goes ${label}`, stage(phase), '', '']);
    if (r.ingress?.stageTail?.[phase]) rows.push([`  its tail ${label}`, tail(r.ingress.stageTail[phase]), '', '']);
    return rows;
  };
  rows.push(...cpuRow(bare?.cpu, 'event', '  bare http: CPU ms per request'));
  rows.push(...cpuRow(r.jetstreamRaw?.cpu, 'event', '  raw JetStream: CPU ms per publish'));
  if (r.ceiling) {
    rows.push([
      `  ceiling: ${r.machine.cpus} cores ÷ (bare http + JetStream CPU per event)`,
      `${fmt(r.ceiling.eventsPerSecond)} events/s at most for any ingress`,
      `${fmt(r.jetstreamRaw?.perSecond)} msg/s`,
      fmt(ratio(r.ceiling.eventsPerSecond, r.jetstreamRaw?.perSecond)),
    ]);
  }
  rows.push(...stageRows('saturation', 'at saturation'));
  rows.push(...cpuRow(r.ingress?.cpu?.saturation));
  for (const [rate, res] of Object.entries((r.ingress?.rates ?? {}) as Record<string, LoadResult>)) {
    const b = bare?.rates?.[rate] as LoadResult | undefined;
    rows.push([`ingress p50 @ ${rate} req/s (got ${fmt(res.okPerSecond)}/s)`, fmt(res.latencyMs.p50, ' ms'), `bare ${fmt(b?.latencyMs.p50, ' ms')}`, fmt(ratio(res.latencyMs.p50, b?.latencyMs.p50))]);
    rows.push([`ingress p99 @ ${rate} req/s`, fmt(res.latencyMs.p99, ' ms'), `bare ${fmt(b?.latencyMs.p99, ' ms')}`, fmt(ratio(res.latencyMs.p99, b?.latencyMs.p99))]);
    rows.push(...stageRows(rate, `@ ${rate} req/s`));
    rows.push(...cpuRow(r.ingress?.cpu?.[rate]));
  }
  ((r.ingress?.p99Pairs ?? []) as P99Pair[]).forEach((p, i) => {
    rows.push([`ingress p99 @ ${P99_GOAL_RATE} req/s, pair ${i + 1}`, fmt(p.ingressP99, ' ms'), `bare ${fmt(p.bareP99, ' ms')}`, fmt(p.ratio)]);
    if (p.stageTail) rows.push(['  its tail', tail(p.stageTail), '', '']);
  });
  return sat || bare ? rows : [];
}

/** Deliveries created in a drain by how their first attempt went; queued ones went through Postgres. */
function firstAttemptsText(counts: Record<string, number> | undefined): string {
  if (!counts) return '—';
  return ['direct', 'queued', 'parked'].map((k) => fmt(counts[k] ?? 0)).join(' / ');
}

function fanoutRows(r: Results): Row[] {
  const rows: Row[] = [];
  const f = r.fanout;
  const b = r.deliveryBaseline;
  if (f) {
    rows.push([
      `fan-out backlog drain deliveries/s (${fmt(f.events)} events)`,
      fmt(f.deliveriesPerSecond),
      `bare sign + POST ${fmt(b?.deliveriesPerSecond)}/s`,
      fmt(ratio(f.deliveriesPerSecond, b?.deliveriesPerSecond)),
    ]);
    rows.push(['  same, vs raw PG claim insert (8 conc.)', '', `${fmt(r.postgresRaw?.single.perSecond)} rows/s`, fmt(ratio(f.deliveriesPerSecond, r.postgresRaw?.single.perSecond))]);
    rows.push([
      '  delivered / expected (double); most in flight',
      `${fmt(f.delivered)} / ${fmt(f.expectedDeliveries)} (${fmt(f.doubleDeliveries)}); ${fmt(f.peakConnections)}${
        f.stragglers ? `; ${fmt(f.stragglers)} late deliveries of earlier phases left out` : ''
      }`,
      '',
      '',
    ]);
    rows.push(['  first attempts: direct / queued / parked', firstAttemptsText(f.firstAttempts), '', '']);
    rows.push(...cpuRow(f.cpu, 'delivery'));
    rows.push(...statementRows(f.statements, 5));
  }
  if (b) {
    if (!f) rows.push(['bare delivery (sign + POST) deliveries/s', fmt(b.deliveriesPerSecond), '', '']);
    rows.push(['  bare delivery: in flight, failed', `${fmt(b.concurrency)} (${b.concurrencySource}), ${fmt(b.failed)} failed`, '', '']);
    rows.push(...cpuRow(b.cpu, 'delivery', '  bare delivery: CPU ms per delivery'));
  }
  const rounds = (r.drainRounds ?? []) as Array<Results>;
  if (rounds.length > 1) {
    rows.push([
      '  drain / bare in turns (deliveries/s)',
      rounds.map((x) => `${fmt(x.drain)} / ${fmt(x.bare)}`).join(', '),
      '',
      rounds.map((x) => fmt(x.ratio)).join(', '),
    ]);
  }
  return rows;
}

function replicaRows(r: Results): Row[] {
  const rows: Row[] = [];
  const fan = (r.replicas?.fanout ?? []) as Array<Results>;
  const one = fan.find((x) => x.processes === 1);
  for (const x of fan) {
    rows.push([
      `fan-out drain, ${x.processes} replica${x.processes > 1 ? 's' : ''} (deliveries/s)`,
      fmt(x.deliveriesPerSecond),
      x.processes === 1 ? '' : `1 replica ${fmt(one?.deliveriesPerSecond)}`,
      x.processes === 1 ? '' : fmt(ratio(x.deliveriesPerSecond, one?.deliveriesPerSecond)),
    ]);
    if (x.delivered < x.expectedDeliveries || x.doubleDeliveries > 0) {
      rows.push(['  delivered / expected (double)', `${fmt(x.delivered)} / ${fmt(x.expectedDeliveries)} (${fmt(x.doubleDeliveries)})`, '', '']);
    }
    rows.push(...cpuRow(x.cpu, 'delivery'));
  }
  const ing = (r.replicas?.ingress ?? []) as Array<Results>;
  const oneIngress = ing.find((x) => x.processes === 1);
  for (const x of ing) {
    rows.push([
      `ingress saturation, ${x.processes} process${x.processes > 1 ? 'es' : ''} (events/s)`,
      `${fmt(x.saturation.okPerSecond)}${x.processes > 1 ? ` (${x.perProcessOkPerSecond.map((v: number) => fmt(v)).join(' + ')})` : ''}`,
      x.processes === 1 ? '' : `1 process ${fmt(oneIngress?.saturation.okPerSecond)}`,
      x.processes === 1 ? '' : fmt(ratio(x.saturation.okPerSecond, oneIngress?.saturation.okPerSecond)),
    ]);
    rows.push(...cpuRow(x.cpu));
  }
  return rows;
}

function throughIngressRows(label: string, e: Results, top = 0): Row[] {
  return [
    [label, `${fmt(e.latencyMs.p50)} / ${fmt(e.latencyMs.p99)} ms`, '', ''],
    [
      '  delivered / expected (double); ingress p99',
      `${fmt(e.delivered)} / ${fmt(e.expectedDeliveries)} (${fmt(e.doubleDeliveries)}); ${fmt(e.ingress.latencyMs.p99, ' ms')}${
        e.stragglers ? `; ${fmt(e.stragglers)} late deliveries of earlier phases left out` : ''
      }`,
      '',
      '',
    ],
    ...cpuRow(e.cpu),
    ...cpuRow(e.cpu, 'delivery'),
    ...statementRows(e.statements, top),
  ];
}

function kneeRows(r: Results): Row[] {
  const k = r.knee;
  if (!k) return [];
  const s = k.settings;
  const rows: Row[] = [
    [
      `knee: highest sustained events/s (${s.seconds} s, all delivered ≤ ${s.graceSeconds} s after, p99 < ${s.p99Ms} ms)`,
      fmt(k.eventsPerSecond),
      `ingress alone ${fmt(k.ingressSaturation)}${saturationAround(k) ? ` (mean of ${saturationAround(k)})` : ''}`,
      fmt(k.eventsPerSecond === null ? 0 : ratio(k.eventsPerSecond, k.ingressSaturation)),
    ],
    ['  same, vs raw JetStream publish+ack', '', `${fmt(r.jetstreamRaw?.perSecond)} msg/s`, fmt(ratio(k.eventsPerSecond, r.jetstreamRaw?.perSecond))],
    [
      '  search',
      (k.steps as Array<Results>).map((st) => `${fmt(st.rate)} ${st.passed ? 'ok' : `✗ (${st.reasons[0]})`}`).join(', '),
      '',
      '',
    ],
  ];
  if (k.atKnee) rows.push(...throughIngressRows(`  at the knee: end to end p50 / p99`, k.atKnee, 8));
  return rows;
}

function steadyRows(r: Results): Row[] {
  if (!r.steady) return [];
  const rows: Row[] = [];
  for (const [app, m] of Object.entries(r.steady.rssMiB as Record<string, any>)) {
    rows.push([
      `RSS ${app}: steady start → quarter means → end (max) / peak of run`,
      `${fmt(m.start)} → ${(m.quarters ?? []).map((q: number) => fmt(q)).join(', ')} → ${fmt(m.end)} (${fmt(m.maxDuringSteady)}) / ${fmt(m.peakOfRun)} MiB`,
      app === 'ingress' ? `bare http ${fmt(r.bareHttp?.rss?.peakMiB)} MiB peak` : '',
      app === 'ingress' ? fmt(ratio(m.peakOfRun, r.bareHttp?.rss?.peakMiB)) : '',
    ]);
    const heap = (m.liveHeapAfterFullGcMB ?? []) as number[];
    if (heap.length > 0) {
      rows.push([
        `  live heap after each full GC (${heap.length} in the steady phase)`,
        `first ${fmt(heap[0])}, last ${fmt(heap[heap.length - 1])}, range ${fmt(Math.min(...heap))}–${fmt(Math.max(...heap))} MB`,
        '',
        '',
      ]);
    }
  }
  rows.push([`steady e2e p50/p99 @ ${r.steady.rate} ev/s, ${r.steady.seconds} s`, `${fmt(r.steady.endToEndMs.p50)} / ${fmt(r.steady.endToEndMs.p99)} ms`, '', '']);
  rows.push(['  delivered / expected (double)', `${fmt(r.steady.delivered)} / ${fmt(r.steady.expectedDeliveries)} (${fmt(r.steady.doubleDeliveries)})`, '', '']);
  return rows;
}

function render(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/**
 * Phases that ended with deliveries missing (still scheduled for a retry, or lost) or repeated: a figure from
 * such a phase is not the whole story, so the report says so under the goals.
 */
function incompletePhases(r: Results): string[] {
  const out: string[] = [];
  const check = (label: string, x: Results | undefined) => {
    if (!x) return;
    const missing = x.expectedDeliveries - x.delivered;
    if (missing > 0 || x.doubleDeliveries > 0) out.push(`${label}: ${fmt(Math.max(0, missing))} of ${fmt(x.expectedDeliveries)} missing, ${fmt(x.doubleDeliveries)} double`);
  };
  check('fanout', r.fanout);
  ((r.drainRounds ?? []) as Results[]).slice(1).forEach((x, i) => check(`drain round ${i + 2}`, x));
  for (const x of r.replicas?.fanout ?? []) check(`replicas (${x.processes} fan-out)`, x);
  for (const x of Object.values((r.endToEnd ?? {}) as Record<string, Results>)) check(`e2e @ ${x.rate}/s`, x);
  for (const x of r.knee?.steps ?? []) if (!x.aborted) check(`knee @ ${x.rate}/s`, x);
  check('quiet', r.quiet?.stack);
  check('steady', r.steady);
  return out;
}

/** The results table: every figure next to its baseline from the same run, then the goals of issue 17. */
export function report(r: Results, goals: Goal[]): string {
  const rows: Row[] = [
    ...ingressRows(r),
    ...fanoutRows(r),
    ...replicaRows(r),
    ...Object.values((r.endToEnd ?? {}) as Record<string, Results>).flatMap((e) =>
      throughIngressRows(`end to end p50 / p99 @ ${e.rate} ev/s × ${r.settings.subscribersPerClinic} subs`, e, 0),
    ),
    ...kneeRows(r),
    ...(r.quiet
      ? [
          [
            `quiet: CPU ms per event @ ${r.quiet.rate} ev/s, every process`,
            fmt(r.quiet.stackMsPerEvent),
            `bare http ${fmt(r.quiet.bareMsPerRequest)} per request`,
            fmt(r.quiet.ratio),
          ] as Row,
          ...cpuRow(r.quiet.stack.cpu),
          ...cpuRow(r.quiet.rest, 'event', `  at rest (no events, ${r.quiet.rest?.seconds} s): CPU ms per second`),
          ...cpuRow(r.quiet.bare.cpu, 'event', '  bare http: CPU ms per request'),
          [
            `quiet: wake-ups per event @ ${r.quiet.rate} ev/s (threads woken from sleep), every process`,
            fmt(r.quiet.stackWakesPerEvent),
            `bare http ${fmt(r.quiet.bareWakesPerRequest)} per request`,
            fmt(ratio(r.quiet.stackWakesPerEvent, r.quiet.bareWakesPerRequest)),
          ] as Row,
          ...wakesRow(r.quiet.stack.cpu, '  wake-ups per event'),
          ...wakesRow(r.quiet.bare.cpu, '  bare http: wake-ups per request'),
        ]
      : []),
    ...steadyRows(r),
    ...Object.entries((r.failed ?? {}) as Record<string, string>).map(([phase, err]) => [`phase ${phase} FAILED`, err.slice(0, 200), '', ''] as Row),
  ];
  const goalRows = goals.map((g) => [g.goal, g.figure, g.baseline, fmt(g.ratio), g.target, g.met === null ? 'n/a' : g.met ? 'met' : 'not met']);
  return [
    `Switchyard bench ${r.date} — ${r.machine.cpus} cores (${r.machine.cpuModel}), Node ${r.machine.node}`,
    ...render(['figure', 'Switchyard', 'baseline', 'ratio'], rows),
    '',
    'Goals of issue 17 (ratios within this run)',
    ...render(['goal', 'figure', 'baseline', 'ratio', 'goal', 'status'], goalRows),
    ...incompletePhases(r).map((line) => `Deliveries not all in at the end of a phase — ${line}`),
    '',
    'Figures for docs/CAPACITY.md (<figure from bench run: …>)',
    ...render(['placeholder', 'this run'], capacityFigures(r)),
  ].join('\n');
}
