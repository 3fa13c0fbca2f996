import { readFileSync } from 'node:fs';
import { Results } from '../phases/context';
import type { BeforeRun } from '../phases/before-engine';
import { postgresPerDelivery } from '../phases/before-engine';
import type { DrainRound } from '../phases/delivery-baseline';

/** One goal of issue 17 as this run measured it. */
export interface Goal {
  goal: string;
  figure: string;
  baseline: string;
  ratio: number | null;
  target: string;
  /** null: not measured in this run (the phase did not run, or a baseline is missing). */
  met: boolean | null;
}

/** The rate of the goal on ingress's p99 (against the bare handler's at the same rate). */
export const P99_GOAL_RATE = 500;

/** Ingress's p99 and the bare handler's at the same rate, measured one right after the other (`ingress` phase). */
export interface P99Pair {
  ingressP99: number;
  bareP99: number;
  /** ingress ÷ bare, the bare p99 taken as at least 1 ms. */
  ratio: number;
  /** Ingress's half: per stage, the percentage of observations above 10 and 25 ms (bench/lib/stages.ts). */
  stageTail?: Record<string, number[] | null>;
}

/** a ÷ b to `digits` decimals; null without both (b = 0 counts as without). */
export const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2) =>
  a !== null && a !== undefined && b ? Math.round((a / b) * 10 ** digits) / 10 ** digits : null;
const n = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '—' : `${v.toLocaleString('en-US')}${unit}`);
const atLeast = (r: number | null, target: number) => (r === null ? null : r >= target);
const atMost = (r: number | null, target: number) => (r === null ? null : r <= target);

/**
 * The old engine's Postgres CPU per delivery at the highest end-to-end rate both it and this run measured:
 * the mean of its runs beside this run's e2e (`BENCH_BEFORE_TREE`), or an earlier run's JSON (`BENCH_BEFORE`).
 */
function postgresBefore(file: string | null, now: Results): { rate: number; ms: number; source: string } | null {
  const beside = now.beforeEngine as BeforeRun[] | undefined;
  const runs: Array<Record<string, number>> = beside
    ? beside.map((b) => b.postgresMsPerDelivery)
    : file
      ? [postgresPerDelivery(JSON.parse(readFileSync(file, 'utf8')))]
      : [];
  if (runs.length === 0) return null;
  const rate = Object.keys(now.endToEnd ?? {})
    .filter((r) => runs.every((run) => run[r] !== undefined))
    .map(Number)
    .sort((a, b) => b - a)[0];
  if (rate === undefined) return null;
  const ms = runs.reduce((sum, run) => sum + run[rate]!, 0) / runs.length;
  const source = beside
    ? `the old engine ${beside.map((b) => `${b.when} ${b.postgresMsPerDelivery[rate]}`).join(', ')} ms`
    : 'BENCH_BEFORE';
  return { rate, ms: Math.round(ms * 1000) / 1000, source };
}

/** `3,100 before, 2,700 after`: the knee's two ingress-alone saturations, when the run measured them. */
export function saturationAround(knee: Results | undefined): string | null {
  const [before, after] = (knee?.saturationBeforeAfter ?? []) as number[];
  return before === undefined ? null : `${n(before)} before, ${n(after)} after`;
}

/** The pair whose ratio is the median of those measured (the lower middle one of an even count). */
function medianPair<T extends { ratio: number | null }>(pairs: T[]): T | null {
  const sorted = pairs.filter((x) => x.ratio !== null).sort((a, b) => a.ratio! - b.ratio!);
  return sorted.length > 0 ? sorted[Math.floor((sorted.length - 1) / 2)]! : null;
}

/** Live heap after full GCs: growth of the second half's mean over the first half's, per app. */
function heapGrowth(steady: Results | undefined): Record<string, number | null> | null {
  if (!steady) return null;
  return Object.fromEntries(
    Object.entries(steady.rssMiB as Record<string, { liveHeapAfterFullGcMB?: number[] }>).map(([app, m]) => {
      const heap = m.liveHeapAfterFullGcMB ?? [];
      if (heap.length < 2) return [app, null];
      const half = Math.floor(heap.length / 2);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return [app, Math.round((mean(heap.slice(heap.length - half)) / mean(heap.slice(0, half)) - 1) * 1000) / 10];
    }),
  );
}

/** The goals of issue 17, each with its figure, its baseline from the same run, the ratio and whether it is met. */
export function goalsOf(r: Results, beforeFile: string | null): Goal[] {
  const goals: Goal[] = [];
  const sat = r.knee?.ingressSaturation ?? r.ingress?.saturation?.okPerSecond;
  const knee = r.knee?.eventsPerSecond as number | null | undefined;
  const kneeRatio = r.knee ? ratio(knee ?? 0, sat) : null;
  goals.push({
    goal: 'sustained knee ÷ ingress-alone saturation',
    figure: r.knee ? `${n(knee)} events/s` : '—',
    baseline: `ingress alone ${n(sat)} events/s${saturationAround(r.knee) ? ` (${saturationAround(r.knee)})` : ''}`,
    ratio: kneeRatio,
    target: '≥ 0.33',
    met: atLeast(kneeRatio, 0.33),
  });

  // With several drain / bare pairs (BENCH_DRAIN_ROUNDS), the pair whose ratio is the median stands for them.
  const rounds = (r.drainRounds ?? []) as DrainRound[];
  const pair = rounds.length > 1 ? medianPair(rounds) : null;
  const drain = pair ? pair.drain : (r.fanout?.deliveriesPerSecond as number | undefined);
  const bare = pair ? pair.bare : (r.deliveryBaseline?.deliveriesPerSecond as number | undefined);
  const drainRatio = pair ? pair.ratio : ratio(drain, bare);
  goals.push({
    goal: `fan-out backlog drain ÷ bare delivery (sign + POST)${pair ? `, median of ${rounds.filter((x) => x.ratio !== null).length} pairs` : ''}`,
    figure: `${n(drain)} deliveries/s`,
    baseline: `bare ${n(bare)} deliveries/s (${n(r.deliveryBaseline?.concurrency)} in flight)${pair ? `; ratios ${rounds.map((x) => n(x.ratio)).join(', ')}` : ''}`,
    ratio: drainRatio,
    target: '≥ 0.5',
    met: atLeast(drainRatio, 0.5),
  });

  const before = postgresBefore(beforeFile, r);
  const rate = before?.rate ?? Math.max(...Object.keys(r.endToEnd ?? {}).map(Number), 0);
  const pgNow = r.endToEnd?.[rate]?.cpu?.msPerDelivery?.postgres as number | undefined;
  const pgRatio = before ? ratio(pgNow, before.ms) : null;
  goals.push({
    goal: `Postgres CPU per delivery @ ${rate || '—'} ev/s, ÷ the old engine's`,
    figure: `${n(pgNow, ' ms')}`,
    baseline: before
      ? `${n(before.ms, ' ms')} (${before.source})`
      : r.beforeEngineErrors
        ? 'n/a (the old engine did not run: see beforeEngineErrors)'
        : 'n/a (set BENCH_BEFORE_TREE or BENCH_BEFORE)',
    ratio: pgRatio,
    target: '≤ 0.33',
    met: atMost(pgRatio, 1 / 3 + 0.005),
  });

  // With pairs of the two in turns (BENCH_P99_ROUNDS), the median pair; else the `ingress` and `baselines` phases' figures.
  const p99Pairs = (r.ingress?.p99Pairs ?? []) as P99Pair[];
  const p99Pair = p99Pairs.length > 0 ? medianPair(p99Pairs) : null;
  const p99 = p99Pair ? p99Pair.ingressP99 : (r.ingress?.rates?.[P99_GOAL_RATE]?.latencyMs?.p99 as number | undefined);
  const bareP99 = p99Pair ? p99Pair.bareP99 : (r.bareHttp?.rates?.[P99_GOAL_RATE]?.latencyMs?.p99 as number | undefined);
  // A bare p99 of 0 ms (rounded) is taken as 1 ms: the ratio to nothing says nothing.
  const p99Ratio = p99 !== undefined && bareP99 !== undefined ? ratio(p99, Math.max(1, bareP99), 1) : null;
  goals.push({
    goal: `ingress p99 @ ${P99_GOAL_RATE} req/s ÷ bare handler${p99Pair ? `, median of ${p99Pairs.length} pairs in turns` : ''}`,
    figure: n(p99, ' ms'),
    baseline: `bare ${n(bareP99, ' ms')}${p99Pair ? `; ratios ${p99Pairs.map((x) => n(x.ratio)).join(', ')}` : ''}`,
    ratio: p99Ratio,
    target: '≤ 5',
    met: atMost(p99Ratio, 5),
  });

  goals.push({
    goal: `CPU per event @ ${r.quiet?.rate ?? 20} ev/s, whole stack ÷ bare handler`,
    figure: n(r.quiet?.stackMsPerEvent, ' ms'),
    baseline: `bare ${n(r.quiet?.bareMsPerRequest, ' ms')} per request`,
    ratio: r.quiet?.ratio ?? null,
    target: '≤ 4',
    met: atMost(r.quiet?.ratio ?? null, 4),
  });

  const growth = heapGrowth(r.steady);
  const known = growth ? Object.values(growth).filter((g): g is number => g !== null) : [];
  const worst = known.length > 0 ? Math.max(...known) : null;
  goals.push({
    goal: 'flat live heap (2nd half of full GCs vs 1st)',
    figure: growth ? Object.entries(growth).map(([app, g]) => `${app} ${g === null ? '—' : `${g > 0 ? '+' : ''}${g} %`}`).join(', ') : '—',
    baseline: 'the same app earlier in the phase',
    ratio: worst === null ? null : Math.round((1 + worst / 100) * 100) / 100,
    target: '≤ 1.10',
    met: growth && known.length === Object.keys(growth).length ? (worst ?? 0) <= 10 : null,
  });
  return goals;
}
