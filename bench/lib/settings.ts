/**
 * The bench's knobs (environment variables, every one listed in bench/README.md) with their defaults.
 * The bench is not an app, so it reads its own `BENCH_*` variables here; the apps' settings still come
 * from `@switchyard/config`.
 */

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The phases, in the order a full run takes them. `BENCH_ONLY` picks some of them. */
export const PHASES = ['baselines', 'ingress', 'fanout', 'delivery-baseline', 'replicas', 'e2e', 'knee', 'quiet', 'steady'] as const;
export type Phase = (typeof PHASES)[number];

export type Settings = ReturnType<typeof loadSettings>;

/** A file the run reads at its end, checked at its start: a mistyped path must not cost a whole run's results. */
function readableFile(name: string, path: string | undefined): string | null {
  if (!path) return null;
  if (!existsSync(path)) throw new Error(`${name}=${path}: no such file`);
  return path;
}

/** A checkout whose bench can run: checked at the start, like a file. */
function benchTree(name: string, path: string | undefined): string | null {
  if (!path) return null;
  for (const needed of ['bench/run.ts', 'node_modules']) if (!existsSync(join(path, needed))) throw new Error(`${name}=${path}: no ${needed} there`);
  return resolve(path);
}

export function loadSettings(env: NodeJS.ProcessEnv) {
  const num = (name: string, fallback: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: expected a number ≥ 0`);
    return n;
  };
  const list = (name: string, fallback: string) =>
    (env[name] || fallback)
      .split(',')
      .filter(Boolean)
      .map((v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${env[name]}: expected comma-separated numbers > 0`);
        return n;
      });
  return {
    saturationSeconds: num('BENCH_SATURATION_SECONDS', 10),
    rateSeconds: num('BENCH_RATE_SECONDS', 8),
    rates: list('BENCH_RATES', '500,2000'),
    connections: num('BENCH_CONNECTIONS', 100),
    rateConnections: num('BENCH_RATE_CONNECTIONS', 50),
    /** Pairs of the bare handler and ingress at 500 req/s, in turns, at the end of the `ingress` phase; the p99 goal takes their median ratio (0: none). */
    p99Rounds: num('BENCH_P99_ROUNDS', 3),
    /** End-to-end latency and CPU per event and per delivery at each of these rates (events/s). */
    e2eRates: list('BENCH_E2E_RATES', '50,200'),
    e2eSeconds: num('BENCH_E2E_SECONDS', 10),
    /**
     * The backlog of the `fanout` drain and of the bare delivery beside it: long enough that what a freshly
     * started process spends getting up to speed is a small part of the figure. 4,000 events (12,000
     * deliveries) drained in ~2 s on a fast machine, so the figure was mostly start-up (JIT, 500 connections
     * opened, the young generation growing) on both sides of the ratio: 5,600 vs 10,500 deliveries/s for
     * fan-out, 15,500 vs 23,600 for the bare delivery. At 20,000 a fresh fan-out still spent the first ~3 s of
     * a ~9 s drain getting there (0.59, 0.21, 0.16 ms of CPU per delivery in its first three seconds, 0.12 from
     * the fifth on), the bare delivery ~1 s: 20,000 read 4,930 vs 12,785, 60,000 6,686 vs 13,921 minutes apart
     * (bench/RESULTS.md, twenty-fourth round).
     */
    fanoutEvents: num('BENCH_FANOUT_EVENTS', 60_000),
    /**
     * The backlog of each `replicas` drain: there the replicas run before it is published, so their start-up is
     * not in the figure, and the phase drains it three times over.
     */
    replicaEvents: num('BENCH_REPLICA_EVENTS', 20_000),
    /** Pairs of a fan-out drain and the bare delivery, in turns, when both phases run; the drain goal takes their median ratio. */
    drainRounds: Math.max(1, num('BENCH_DRAIN_ROUNDS', 3)),
    steadyRate: num('BENCH_STEADY_RATE', 200),
    steadySeconds: num('BENCH_STEADY_SECONDS', 120),
    baselineSeconds: num('BENCH_BASELINE_SECONDS', 5),
    knee: {
      /** Length of each phase of the search. */
      seconds: num('BENCH_KNEE_SECONDS', 30),
      /** First rate tried; 0 = a third of the same run's ingress saturation (the goal's ratio). */
      start: num('BENCH_KNEE_START', 0),
      maxPhases: Math.max(1, num('BENCH_KNEE_MAX_PHASES', 6)),
      /** Every delivery must have arrived this long after the phase's last request was due. */
      graceSeconds: num('BENCH_KNEE_GRACE_SECONDS', 3),
      /** p99 end to end (and of ingress answers) must stay under this. */
      p99Ms: num('BENCH_KNEE_P99_MS', 500),
    },
    quiet: { rate: num('BENCH_QUIET_RATE', 20), seconds: num('BENCH_QUIET_SECONDS', 20), restSeconds: num('BENCH_QUIET_REST_SECONDS', 10), leadInSeconds: num('BENCH_QUIET_LEAD_IN_SECONDS', 3) },
    /** Fan-out processes for the replicas phase's backlog drains, and ingress processes for its saturations. */
    replicas: list('BENCH_REPLICAS', '1,2,3'),
    ingressReplicas: list('BENCH_INGRESS_REPLICAS', '1,2'),
    /** A results JSON of an earlier run (e.g. the old engine) to compare Postgres CPU per delivery with. */
    before: readableFile('BENCH_BEFORE', env.BENCH_BEFORE),
    /** A checkout of the old engine (its `npm ci` done) whose own e2e bench runs right before and after this run's `e2e`; it takes the place of BENCH_BEFORE. */
    beforeTree: benchTree('BENCH_BEFORE_TREE', env.BENCH_BEFORE_TREE),
    /** The bench's own database (created when missing, dropped at the end if it created it). */
    database: env.BENCH_DATABASE || 'switchyard_bench',
    clinics: 100,
    subscribersPerClinic: 3,
    only: parseOnly(env.BENCH_ONLY),
    /** Comma-separated apps to run with `--cpu-prof` (profiles land in the run's log dir). */
    cpuProf: (env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean),
    /** Extra node flags for the apps, e.g. `--trace-gc` (not allowed in NODE_OPTIONS). */
    nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    keep: env.BENCH_KEEP === '1',
  };
}

/** `all` (default) or a comma-separated list of phases; an unknown name is an error, not a silent no-op. */
function parseOnly(value: string | undefined): Phase[] {
  if (!value || value === 'all') return [...PHASES];
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown phase ${unknown.join(', ')}; expected all or some of ${PHASES.join(', ')}`);
  return PHASES.filter((p) => names.includes(p));
}
