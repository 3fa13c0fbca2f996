/**
 * `npm run bench` — Switchyard's throughput, latency and memory on this machine, each next to a baseline
 * measured in the same run. Not part of `npm test`. See bench/README.md for what each figure means.
 *
 * Every app runs as its own child process (compiled with SWC first), on a Postgres schema and NATS
 * prefix of its own (`bench_<timestamp>`), removed at the end unless BENCH_KEEP=1.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pgPool } from './lib/pg';
import { loadConfig } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { InboundPublisher, connectNats, deleteStreams, ensureStreams } from '@switchyard/messaging';
import { runMigrations } from '@switchyard/persistence';
import { jetstreamPublishBaseline, postgresClaimBaselines } from './lib/baselines';
import { LoadResult, runLoad } from './lib/load';
import { runPaced } from './lib/paced-load';
import { RequestMix } from './lib/payloads';
import { Child, fileSize, freePort, liveHeapAfterFullGcs, round1, rssOf, sleep, startChild } from './lib/procs';
import { seedTenants } from './lib/seed';
import { scrapeStages, stageMeans } from './lib/stages';
import { pidsNamed, round3, startCpuMeter } from './lib/cpu';

const env = process.env;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const S = {
  saturationSeconds: num('BENCH_SATURATION_SECONDS', 10),
  rateSeconds: num('BENCH_RATE_SECONDS', 8),
  rates: (env.BENCH_RATES ?? '500,2000').split(',').map(Number),
  connections: num('BENCH_CONNECTIONS', 100),
  rateConnections: num('BENCH_RATE_CONNECTIONS', 50),
  /** End-to-end latency and CPU per event at each of these rates (events/s), to show where the knee is. */
  e2eRates: (env.BENCH_E2E_RATES ?? '50,200').split(',').map(Number),
  e2eSeconds: num('BENCH_E2E_SECONDS', 10),
  fanoutEvents: num('BENCH_FANOUT_EVENTS', 4000),
  steadyRate: num('BENCH_STEADY_RATE', 200),
  steadySeconds: num('BENCH_STEADY_SECONDS', 120),
  baselineSeconds: num('BENCH_BASELINE_SECONDS', 5),
  clinics: 100,
  subscribersPerClinic: 3,
  /**
   * `ingress` runs only the ingress phases, `fanout` only the fan-out backlog phase, `e2e` only the
   * end-to-end and steady phases (for profiling); `all` (default) everything.
   */
  only: env.BENCH_ONLY ?? 'all',
  /** Comma-separated apps to run with `--cpu-prof` (profiles land in the run's log dir). */
  cpuProf: (env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean),
  /** Extra node flags for the apps, e.g. `--trace-gc` (not allowed in NODE_OPTIONS). */
  nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
};

const root = resolve(__dirname, '..');
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '_').toLowerCase();
const name = `bench_${stamp}`;
const logDir = join(tmpdir(), `switchyard-${name}`);
const buildDir = join(root, 'dist', 'bench-build');
const base = loadConfig({ ...env, DATABASE_SCHEMA: name, NATS_PREFIX: name });

function log(msg: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Compiles apps, libs and bench with SWC (path aliases rewritten by .swcrc), plus proto/ next to it. */
function build() {
  rmSync(buildDir, { recursive: true, force: true });
  const swc = spawnSync(join(root, 'node_modules/.bin/swc'), ['apps', 'libs', 'bench', '-d', buildDir, '-q'], { cwd: root, stdio: 'inherit' });
  if (swc.status !== 0) throw new Error('swc build failed');
  cpSync(join(root, 'proto'), join(buildDir, 'proto'), { recursive: true });
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? Math.round((a / b) * 100) / 100 : null);

async function main() {
  mkdirSync(logDir, { recursive: true });
  log(`run ${name}; child logs and profiles in ${logDir}`);
  build();

  const dbOptions = { url: base.DATABASE_URL, schema: name, poolSize: 1, applicationName: 'switchyard-bench' };
  await runMigrations(dbOptions);
  const nc = await connectNats(base.NATS_URL, 'switchyard-bench');
  const subjects = subjectsFor(name);
  const streamSettings = { replicas: 1, maxAgeMs: 3_600_000, maxBytes: -1, duplicateWindowMs: base.STREAM_DUPLICATE_WINDOW };
  await ensureStreams(nc, subjects, streamSettings);

  const children: Child[] = [];
  const launcher = join(buildDir, 'bench/launch-app.js');
  const results: Record<string, any> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: round1(totalmem() / 2 ** 30), node: process.version },
    settings: S,
  };

  try {
    const receiver = await startChild('receiver', join(buildDir, 'bench/receiver.js'), [], env, logDir);
    children.push(receiver);
    const receiverUrl = `http://127.0.0.1:${receiver.port}`;
    const keys = await seedTenants(base.DATABASE_URL, name, base.KEY_PEPPER, receiverUrl, S.clinics, S.subscribersPerClinic);
    log(`seeded ${S.clinics} clinics, ${S.subscribersPerClinic} subscribers each`);

    const ports = { ingress: await freePort(), ingressOps: await freePort(), grpc: await freePort(), dedupeHttp: await freePort(), fanoutHttp: await freePort() };
    const appEnv: NodeJS.ProcessEnv = {
      ...env,
      NODE_ENV: 'production',
      LOG_LEVEL: env.LOG_LEVEL ?? 'info',
      DATABASE_SCHEMA: name,
      NATS_PREFIX: name,
      KEY_PEPPER: base.KEY_PEPPER,
      ADMIN_TOKEN: base.ADMIN_TOKEN,
      HTTP_HOST: '127.0.0.1',
      INGRESS_PORT: String(ports.ingress),
      INGRESS_OPS_PORT: String(ports.ingressOps),
      DEDUPE_GRPC_PORT: String(ports.grpc),
      DEDUPE_GRPC_URL: `127.0.0.1:${ports.grpc}`,
      DEDUPE_HTTP_PORT: String(ports.dedupeHttp),
      FANOUT_HTTP_PORT: String(ports.fanoutHttp),
      ALLOW_INSECURE_SUBSCRIBER_URLS: 'true',
    };
    // --trace-gc: the steady phase reads the live heap after each full GC from the apps' logs.
    const prof = (app: string) => ['--trace-gc', ...(S.cpuProf.includes(app) ? ['--cpu-prof', '--cpu-prof-dir', logDir] : []), ...S.nodeArgs];
    const startApp = async (app: string) => {
      const c = await startChild(app, launcher, [app], appEnv, logDir, prof(app));
      children.push(c);
      return c;
    };
    const dedupe = await startApp('dedupe');
    const ingress = await startApp('ingress');
    const ingressUrl = `http://127.0.0.1:${ports.ingress}/webhooks/nimbus`;
    log('dedupe and ingress ready (fan-out not started)');
    const pidOf = (name: string) => () => children.filter((c) => c.name === name && c.proc.pid).map((c) => c.proc.pid!);
    /** Where the CPU goes (bench/lib/cpu.ts): the apps, the receiver, Postgres and NATS; the load generator is added. */
    const cpuGroups = {
      ingress: pidOf('ingress'),
      dedupe: pidOf('dedupe'),
      fanout: pidOf('fanout'),
      receiver: pidOf('receiver'),
      postgres: () => pidsNamed('postgres'),
      'nats-server': () => pidsNamed('nats-server'),
    };

    // Warm-up: JIT, connection pools, the auth cache. Again after the baselines, right before the ingress is
    // measured: idle for their minute, V8's memory reducer shrinks the young generation and the first seconds
    // of load ran at 0.235 instead of 0.21 ms of ingress CPU per event.
    const warmUp = () => runLoad(ingressUrl, new RequestMix(keys), { connections: 20, seconds: 3 });
    if (S.only !== 'fanout') await warmUp();

    // ── Baselines ─────────────────────────────────────────────────────────────────────────────
    const payloadBytes = new RequestMix(keys).meanBodyBytes();
    if (S.only === 'all') {
      const bare = await startChild('bare-http', join(buildDir, 'bench/bare-http.js'), [], { ...env, BENCH_KEYS: keys.join(',') }, logDir);
      children.push(bare);
      const bareUrl = `http://127.0.0.1:${bare.port}/webhooks/nimbus`;
      await runLoad(bareUrl, new RequestMix(keys), { connections: 20, seconds: 2 });
      log('baseline: bare http handler');
      const bareMeter = startCpuMeter({ 'bare http': () => (bare.proc.pid ? [bare.proc.pid] : []) });
      const bareSat = await runLoad(bareUrl, new RequestMix(keys), { connections: S.connections, seconds: S.saturationSeconds });
      const bareCpu = bareMeter.stop(bareSat.ok);
      const bareRates: Record<string, LoadResult> = {};
      for (const rate of S.rates) bareRates[rate] = await runPaced(bareUrl, new RequestMix(keys), { connections: S.rateConnections, seconds: S.rateSeconds, rate });
      results.bareHttp = { saturation: bareSat, rates: bareRates, rss: rssOf(bare.proc.pid), cpu: bareCpu };
      await bare.stop();

      log(`baseline: JetStream publish+ack, ${S.connections} in flight, ${payloadBytes} B`);
      const jsRaw = await jetstreamPublishBaseline(base.NATS_URL, name, payloadBytes, S.connections, S.baselineSeconds, () =>
        startCpuMeter({ 'nats-server': cpuGroups['nats-server'] }),
      );
      results.jetstreamRaw = { ...jsRaw, payloadBytes, inFlight: S.connections };
      results.ceiling = ingressCeiling(results.bareHttp.cpu, results.jetstreamRaw.cpu, cpus().length);
      log('baseline: Postgres claim inserts');
      results.postgresRaw = await postgresClaimBaselines(base.DATABASE_URL, name, S.baselineSeconds);
    }

    // ── Ingress ──────────────────────────────────────────────────────────────────────────────
    if (S.only === 'all' || S.only === 'ingress') {
      if (S.only === 'all') await warmUp();
      log(`ingress: saturation, ${S.connections} connections, ${S.saturationSeconds} s`);
      const stages = () => scrapeStages(`http://127.0.0.1:${ports.ingressOps}/metrics`, `http://127.0.0.1:${ports.dedupeHttp}/metrics`);
      let before = await stages();
      let meter = startCpuMeter(cpuGroups);
      const sat = await runLoad(ingressUrl, new RequestMix(keys), { connections: S.connections, seconds: S.saturationSeconds });
      const cpu: Record<string, ReturnType<typeof meter.stop>> = { saturation: meter.stop(sat.ok) };
      const stageMs: Record<string, ReturnType<typeof stageMeans>> = { saturation: stageMeans(before, (before = await stages())) };
      const rates: Record<string, LoadResult> = {};
      for (const rate of S.rates) {
        log(`ingress: ${rate} req/s for ${S.rateSeconds} s`);
        meter = startCpuMeter(cpuGroups);
        rates[rate] = await runPaced(ingressUrl, new RequestMix(keys), { connections: S.rateConnections, seconds: S.rateSeconds, rate });
        cpu[rate] = meter.stop(rates[rate].ok);
        stageMs[rate] = stageMeans(before, (before = await stages()));
      }
      results.ingress = { saturation: sat, rates, stageMs, cpu };
    }

    if (S.only === 'all' || S.only === 'fanout') {
      // ── Fan-out at saturation: a backlog published with fan-out stopped, then drained ──────────
      await sleep(3000); // requests the server still had queued when the load stopped land in the old stream
      await deleteStreams(nc, subjects);
      await ensureStreams(nc, subjects, streamSettings);
      const publisher = new InboundPublisher(nc, subjects, 10_000);
      const clinicIds: string[] = (
        await queryRows(`SELECT c.id FROM clinics c ORDER BY c.name`)
      ).map((r) => r.id as string);
      const mix = new RequestMix(keys, 0);
      log(`fan-out: publishing ${S.fanoutEvents} events with fan-out stopped`);
      for (let i = 0; i < S.fanoutEvents; i += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, S.fanoutEvents - i) }, () => {
            const body = mix.next().body;
            return publisher.publish({
              eventId: randomUUID(),
              clinicId: clinicIds[Math.floor(Math.random() * clinicIds.length)]!,
              eventName: (JSON.parse(body) as { event_name: string }).event_name,
              receivedAt: new Date().toISOString(),
              body: Buffer.from(body),
            });
          }),
        );
      }
      await resetReceiver(receiverUrl, false);
      const expected = S.fanoutEvents * S.subscribersPerClinic;
      const t0 = Date.now();
      const fanout = await startApp('fanout');
      const tReady = Date.now();
      const drained = await waitForDeliveries(receiverUrl, expected, 120_000);
      const fanoutStats = await receiverStats(receiverUrl);
      const span = (fanoutStats.last - fanoutStats.first) / 1000;
      results.fanout = {
        events: S.fanoutEvents,
        expectedDeliveries: expected,
        delivered: fanoutStats.count,
        doubleDeliveries: fanoutStats.duplicates,
        complete: drained,
        startupSeconds: round1((tReady - t0) / 1000),
        firstToLastSeconds: round1(span),
        deliveriesPerSecond: span > 0 ? Math.round((fanoutStats.count - 1) / span) : null,
        eventsPerSecond: span > 0 ? Math.round((fanoutStats.count - 1) / span / S.subscribersPerClinic) : null,
      };
      log(`fan-out: ${results.fanout.deliveriesPerSecond} deliveries/s`);
    }
    if (S.only === 'all' || S.only === 'e2e') {
      let fanout = children.find((c) => c.name === 'fanout');
      if (!fanout) {
        // Only this phase runs: the warm-up's events must not become fan-out's backlog.
        await sleep(3000);
        await deleteStreams(nc, subjects);
        await ensureStreams(nc, subjects, streamSettings);
        fanout = await startApp('fanout');
      }

      // ── End to end at fixed rates, with the CPU each process spends per event ────────────────
      results.endToEnd = {};
      for (const rate of S.e2eRates) {
        log(`end to end: ${rate} events/s for ${S.e2eSeconds} s, ${S.subscribersPerClinic} subscribers per clinic`);
        await resetReceiver(receiverUrl, true);
        const meter = startCpuMeter(cpuGroups);
        const e2eLoad = await runPaced(ingressUrl, new RequestMix(keys), { connections: S.rateConnections, seconds: S.e2eSeconds, rate });
        const e2eExpected = e2eLoad.newEvents * S.subscribersPerClinic;
        const e2eComplete = await waitForDeliveries(receiverUrl, e2eExpected, 60_000);
        const cpu = meter.stop(e2eLoad.ok);
        const e2eStats = await receiverStats(receiverUrl);
        results.endToEnd[rate] = {
          rate,
          ingress: e2eLoad,
          expectedDeliveries: e2eExpected,
          delivered: e2eStats.count,
          doubleDeliveries: e2eStats.duplicates,
          complete: e2eComplete,
          latencyMs: e2eStats.latency,
          cpu,
        };
      }

      // ── Memory over a steady phase ─────────────────────────────────────────────────────────
      log(`steady: ${S.steadyRate} events/s for ${S.steadySeconds} s`);
      const apps = { ingress, dedupe, fanout };
      const sample = () => Object.fromEntries(Object.entries(apps).map(([k, c]) => [k, rssOf(c.proc.pid)?.rssMiB ?? null]));
      const startRss = sample();
      const appLog = (app: string) => join(logDir, `${app}.log`);
      const logOffsets = Object.fromEntries(Object.keys(apps).map((k) => [k, fileSize(appLog(k))]));
      const maxRss: Record<string, number> = {};
      const series: Record<string, number[]> = {};
      const sampler = setInterval(() => {
        for (const [k, v] of Object.entries(sample())) {
          if (v === null) continue;
          maxRss[k] = Math.max(maxRss[k] ?? 0, v);
          (series[k] ??= []).push(v);
        }
      }, 1000);
      await resetReceiver(receiverUrl, true);
      const steadyMix = new RequestMix(keys);
      const steadyLoad = await runPaced(ingressUrl, steadyMix, { connections: S.rateConnections, seconds: S.steadySeconds, rate: S.steadyRate });
      await waitForDeliveries(receiverUrl, steadyLoad.newEvents * S.subscribersPerClinic, 30_000);
      clearInterval(sampler);
      const endRss = sample();
      const steadyStats = await receiverStats(receiverUrl);
      results.steady = {
        rate: S.steadyRate,
        seconds: S.steadySeconds,
        ingress: steadyLoad,
        endToEndMs: steadyStats.latency,
        rssMiB: Object.fromEntries(
          Object.entries(apps).map(([k, c]) => [
            k,
            {
              start: startRss[k],
              // Each quarter's mean: a leak climbs through all four, a heap settling only in the first.
              quarters: quarterMeans(series[k] ?? []),
              end: endRss[k],
              maxDuringSteady: maxRss[k] ?? null,
              peakOfRun: rssOf(c.proc.pid)?.peakMiB ?? null,
              liveHeapAfterFullGcMB: liveHeapAfterFullGcs(appLog(k), logOffsets[k]!),
            },
          ]),
        ),
      };
    }
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    if (env.BENCH_KEEP !== '1') {
      await deleteStreams(nc, subjects).catch(() => undefined);
      const pool = pgPool(base.DATABASE_URL, 1);
      await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => undefined);
      await pool.end();
    }
    await nc.drain().catch(() => undefined);
  }

  const file = join(root, 'bench/results', `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${table(results)}\n`);
  log(`results written to ${file}`);
}

async function queryRows(sql: string): Promise<any[]> {
  const pool = pgPool(base.DATABASE_URL, 1, name);
  try {
    return (await pool.query(sql)).rows;
  } finally {
    await pool.end();
  }
}

async function resetReceiver(url: string, record: boolean) {
  await fetch(`${url}/__reset${record ? '?record=1' : ''}`, { method: 'POST' });
}

async function receiverStats(url: string): Promise<{ count: number; duplicates: number; first: number; last: number; latency: Record<string, number | null> }> {
  return (await fetch(`${url}/__stats`)).json() as any;
}

/** Waits until the receiver has `expected` deliveries; false after `timeoutMs` or 10 s without progress. */
async function waitForDeliveries(url: string, expected: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  let lastCount = -1;
  let lastChange = Date.now();
  while (Date.now() < end) {
    const { count } = await receiverStats(url);
    if (count >= expected) return true;
    if (count !== lastCount) {
      lastCount = count;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 10_000) return false;
    await sleep(100);
  }
  return false;
}

/** The mean of each quarter of a series of samples, to one decimal. */
function quarterMeans(samples: number[]): number[] {
  if (samples.length < 4) return [];
  const q = Math.floor(samples.length / 4);
  return [0, 1, 2, 3].map((i) => {
    const part = samples.slice(i * q, i === 3 ? samples.length : (i + 1) * q);
    return round1(part.reduce((a, b) => a + b, 0) / part.length);
  });
}

const fmt = (v: unknown, unit = '') => (v === null || v === undefined ? '—' : `${typeof v === 'number' ? v.toLocaleString('en-US') : v}${unit}`);

/** `CPU ms per event`: each process group's share, the total, and how busy the two cores were. */
type CpuPerEvent = { msPerEvent: Record<string, number | null>; machineBusyPercent: number };
const cpuTotal = (cpu: CpuPerEvent) => Object.values(cpu.msPerEvent).reduce<number>((n, v) => n + (v ?? 0), 0);

function cpuRow(cpu: CpuPerEvent, label = '  CPU ms per event'): [string, string, string, string] {
  const parts = Object.entries(cpu.msPerEvent).filter(([, v]) => v !== null && v > 0);
  return [`${label} (machine ${cpu.machineBusyPercent} % busy)`, `${parts.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; total ${round3(cpuTotal(cpu))}`, '', ''];
}

/**
 * The most events/s any ingress could accept here if it did nothing but what the two baselines do, the HTTP
 * request (load generator and handler) and the JetStream publish with its ack (client and nats-server), with
 * every core busy all the time: cores × 1,000 ms ÷ their CPU ms per event added up. Claiming the key, auth and
 * validation come on top, so the ingress ratio to raw JetStream cannot exceed this one.
 */
function ingressCeiling(bareCpu: CpuPerEvent, jetstreamCpu: CpuPerEvent, cores: number) {
  const msPerEvent = cpuTotal(bareCpu) + cpuTotal(jetstreamCpu);
  return { msPerEvent: round3(msPerEvent), eventsPerSecond: msPerEvent > 0 ? Math.round((cores * 1000) / msPerEvent) : null };
}

function table(r: Record<string, any>): string {
  const rows: Array<[string, string, string, string]> = [];
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
  if (bare?.cpu) rows.push(cpuRow(bare.cpu, '  bare http: CPU ms per request'));
  if (r.jetstreamRaw?.cpu) rows.push(cpuRow(r.jetstreamRaw.cpu, '  raw JetStream: CPU ms per publish'));
  if (r.ceiling) {
    rows.push([
      `  ceiling: ${r.machine.cpus} cores ÷ (bare http + JetStream CPU per event)`,
      `${fmt(r.ceiling.eventsPerSecond)} events/s at most for any ingress`,
      `${fmt(r.jetstreamRaw?.perSecond)} msg/s`,
      fmt(ratio(r.ceiling.eventsPerSecond, r.jetstreamRaw?.perSecond)),
    ]);
  }
  if (r.ingress?.stageMs) rows.push(['  where the time goes at saturation', stage('saturation'), '', '']);
  if (r.ingress?.cpu?.saturation) rows.push(cpuRow(r.ingress.cpu.saturation));
  for (const [rate, res] of Object.entries((r.ingress?.rates ?? {}) as Record<string, LoadResult>)) {
    const b = bare?.rates?.[rate] as LoadResult | undefined;
    rows.push([`ingress p50 @ ${rate} req/s (got ${fmt(res.okPerSecond)}/s)`, fmt(res.latencyMs.p50, ' ms'), `bare ${fmt(b?.latencyMs.p50, ' ms')}`, fmt(ratio(res.latencyMs.p50, b?.latencyMs.p50))]);
    rows.push([`ingress p99 @ ${rate} req/s`, fmt(res.latencyMs.p99, ' ms'), `bare ${fmt(b?.latencyMs.p99, ' ms')}`, fmt(ratio(res.latencyMs.p99, b?.latencyMs.p99))]);
    if (r.ingress?.stageMs?.[rate]) rows.push([`  where the time goes @ ${rate} req/s`, stage(rate), '', '']);
    if (r.ingress?.cpu?.[rate]) rows.push(cpuRow(r.ingress.cpu[rate]));
  }
  for (const e of Object.values((r.endToEnd ?? {}) as Record<string, any>)) {
    rows.push([`end to end p50 / p99 @ ${e.rate} ev/s × 3 subs`, `${fmt(e.latencyMs.p50)} / ${fmt(e.latencyMs.p99)} ms`, '—', '—']);
    rows.push(['  delivered / expected (double)', `${fmt(e.delivered)} / ${fmt(e.expectedDeliveries)} (${fmt(e.doubleDeliveries)})`, '', '']);
    rows.push(cpuRow(e.cpu));
  }
  if (r.fanout) {
    const f = r.fanout;
    rows.push([`fan-out deliveries/s (backlog of ${fmt(f.events)} events)`, fmt(f.deliveriesPerSecond), `PG single-row ${fmt(r.postgresRaw?.single.perSecond)}/s`, fmt(ratio(f.deliveriesPerSecond, r.postgresRaw?.single.perSecond))]);
    rows.push(['  delivered / expected (double)', `${fmt(f.delivered)} / ${fmt(f.expectedDeliveries)} (${fmt(f.doubleDeliveries)})`, '', '']);
  }
  if (r.steady) {
    for (const [app, m] of Object.entries(r.steady.rssMiB as Record<string, any>)) {
      rows.push([
        `RSS ${app}: steady start → quarter means → end (max) / peak of run`,
        `${fmt(m.start)} → ${(m.quarters ?? []).map((q: number) => fmt(q)).join(', ')} → ${fmt(m.end)} (${fmt(m.maxDuringSteady)}) / ${fmt(m.peakOfRun)} MiB`,
        app === 'ingress' ? `bare http ${fmt(bare?.rss?.peakMiB)} MiB peak` : '',
        app === 'ingress' ? fmt(ratio(m.peakOfRun, bare?.rss?.peakMiB)) : '',
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
  }
  const head: [string, string, string, string] = ['figure', 'Switchyard', 'baseline', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `Switchyard bench ${r.date} — ${r.machine.cpus} cores (${r.machine.cpuModel}), Node ${r.machine.node}`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
