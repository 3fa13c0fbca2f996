/**
 * Ops tier (`npm run test:ops`): the shipped alert rules and dashboards against the real tools.
 *  - promtool: the rule files pass `check rules`, their unit tests (deploy/prometheus/tests) pass
 *    `test rules`, and every alert has a case where it fires and one where it stays quiet;
 *  - a real Prometheus server (Debian's `prometheus`, on a free port) scrapes the four running apps after
 *    traffic — accepted, duplicate and rejected events, a subscriber that fails once, one that always
 *    fails (dead letters), one that answers 410 — loads the rule files (every rule healthy), and every
 *    query of every dashboard panel, with Grafana's variables filled in, returns at least one series;
 *  - `promtool check metrics` lints what each app exports.
 * Needs promtool and prometheus: `sudo scripts/ci/install-ops-tools.sh prometheus` (Debian package
 * `prometheus`). Without them this fails, saying so: it never skips.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import {
  PanelQuery,
  RULES_DIR,
  RULE_TESTS_DIR,
  dashboardFiles,
  dashboardQueries,
  dashboardVariables,
  ruleExprs,
  ruleFiles,
} from '../observability/support/monitoring-files';
import { freePort } from '../support/free-port';
import { TestReceiver } from '../support/receiver';
import { AppName, TestStack, eventually } from '../support/stack';

const INSTALL_HINT = 'install it with `sudo scripts/ci/install-ops-tools.sh prometheus` (Debian: apt-get install prometheus)';

function tool(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) throw new Error(`${name} is not installed: ${INSTALL_HINT}`);
  return path;
}

/** What a Grafana variable-free query looks like to Prometheus: the dashboard's built-ins filled in. */
export function fillGrafanaVariables(expr: string, values: Record<string, string>): string {
  const builtIns: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m', __range_s: '300', __interval_ms: '15000' };
  const all = { ...builtIns, ...values };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, a, b, c) => {
    const name = a ?? b ?? c;
    if (!(name in all)) throw new Error(`unknown Grafana variable ${match} in: ${expr}`);
    return all[name]!;
  });
}

/** The cases of a promtool unit-test file, by alert: whether each `ALERTS{...firing}` case expects it to fire. */
function alertCases(file: string): Array<{ alert: string; fires: boolean; name: string }> {
  const doc = parse(readFileSync(join(RULE_TESTS_DIR, file), 'utf8')) as { tests: any[] };
  return doc.tests.flatMap((t) =>
    (t.promql_expr_test ?? []).flatMap((c: any) => {
      const m = /^ALERTS\{alertname="(\w+)",alertstate="firing"\}$/.exec(String(c.expr).trim());
      return m ? [{ alert: m[1]!, fires: (c.exp_samples ?? []).length > 0, name: String(t.name) }] : [];
    }),
  );
}

describe('alert rules: promtool', () => {
  let promtool: string;
  const ruleFilePaths = () => ruleFiles().map((f) => join(RULES_DIR, f));
  const testFiles = () => readdirSync(RULE_TESTS_DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

  beforeAll(() => {
    promtool = tool('promtool');
  });

  it('accepts the rule files (promtool check rules)', () => {
    const run = spawnSync(promtool, ['check', 'rules', ...ruleFilePaths()], { encoding: 'utf8' });
    expect({ status: run.status, output: `${run.stdout}${run.stderr}` }).toMatchObject({ status: 0 });
  });

  it('passes the unit tests of deploy/prometheus/tests (promtool test rules)', () => {
    expect(testFiles().length).toBeGreaterThan(0);
    const run = spawnSync(promtool, ['test', 'rules', ...testFiles()], { cwd: RULE_TESTS_DIR, encoding: 'utf8' });
    expect({ status: run.status, output: `${run.stdout}${run.stderr}` }).toMatchObject({ status: 0 });
  });

  it('has, for every alert, a case where it fires and one where it stays quiet', () => {
    const alerts = ruleFiles().flatMap((f) => ruleExprs(f).filter((r) => r.alert).map((r) => r.name));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    const cases = testFiles().flatMap(alertCases);
    const coverage = Object.fromEntries(
      alerts.map((a) => [a, { fires: cases.some((c) => c.alert === a && c.fires), quiet: cases.some((c) => c.alert === a && !c.fires) }]),
    );
    expect(coverage).toEqual(Object.fromEntries(alerts.map((a) => [a, { fires: true, quiet: true }])));
  });

  it('fails a unit test when a rule changes under it (the tests can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-rules-'));
    try {
      const tests = join(dir, 'tests');
      require('node:fs').mkdirSync(tests);
      for (const f of testFiles()) writeFileSync(join(tests, f), readFileSync(join(RULE_TESTS_DIR, f)));
      for (const f of ruleFiles()) {
        // Every `for:` ten times longer: no alert may fire when its case says it does.
        writeFileSync(join(dir, f), readFileSync(join(RULES_DIR, f), 'utf8').replace(/for: (\d+)m/g, (_, n) => `for: ${Number(n) * 10 + 30}m`));
      }
      const run = spawnSync(promtool, ['test', 'rules', ...testFiles()], { cwd: tests, encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toMatch(/FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards and alerts against a real Prometheus scraping the apps', () => {
  const APPS: AppName[] = ['ingress', 'dedupe', 'fanout', 'admin'];
  let stack: TestStack;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let dataDir = '';
  let promtool = '';
  let output = '';
  const receivers: Record<string, TestReceiver> = {};

  async function query(expr: string): Promise<any[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data?: { result: any[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  }

  beforeAll(async () => {
    promtool = tool('promtool');
    const prometheusBin = tool('prometheus');

    receivers.ok = await new TestReceiver().start();
    receivers.flaky = await new TestReceiver().start();
    receivers.flaky.respond = (_r, i) => ({ status: i === 0 ? 500 : 200 });
    receivers.broken = await new TestReceiver().start();
    receivers.broken.respond = () => ({ status: 500 });
    receivers.gone = await new TestReceiver().start();
    receivers.gone.respond = () => ({ status: 410 });

    stack = await TestStack.start(__filename, {
      METRICS_CLINIC_LABEL: 'true',
      RETRY_SCHEDULE: '100ms',
      RETRY_JITTER: '0',
      DELIVERY_POLL_INTERVAL: '100ms',
    });

    // Prometheus first, so that it sees every counter go up.
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'switchyard-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: ruleFiles().map((f) => join(RULES_DIR, f)),
      // Job names and labels as in deploy/compose/prometheus.yml and the chart's ServiceMonitor.
      scrape_configs: APPS.map((app) => ({
        job_name: `switchyard-${app}`,
        static_configs: [{ targets: [new URL(stack.opsUrls.get(app)!).host], labels: { component: app } }],
      })),
    };
    writeFileSync(join(dataDir, 'prometheus.yml'), JSON.stringify(config));
    prometheus = spawn(
      prometheusBin,
      [
        `--config.file=${join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (d) => (output += d));
    prometheus.stderr!.on('data', (d) => (output += d));
    promUrl = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${promUrl}/-/ready`)).status === 200, 30_000, `prometheus ready; its output:\n${output}`);
    await eventually(async () => (await query('up == 1')).length === APPS.length, 15_000, 'all four targets up');

    // Traffic: every event type, a duplicate, rejections, deliveries that succeed, retry, die and are gone.
    const clinic = await stack.createClinic('Prometheus clinic');
    for (const r of Object.values(receivers)) await stack.createSubscriber(clinic.id, r.url);
    for (const name of Object.keys(nimbusFixtures) as Array<keyof typeof nimbusFixtures>) {
      await expect(stack.send(clinic.apiKey, clone(nimbusFixtures[name]))).resolves.toMatchObject({ status: 200 });
    }
    await eventually(async () => {
      const r = await stack.send(clinic.apiKey, clone(nimbusFixtures['shipment:created']));
      return r.status === 200 && r.body.duplicate === true;
    }, 10_000, 'a duplicate answer');
    await expect(stack.send(clinic.apiKey, { event_name: 'shipment:created', event_data: {} })).resolves.toMatchObject({ status: 400 });
    await expect(stack.send('swy_not_a_key', clone(nimbusFixtures['shipment:created']))).resolves.toMatchObject({ status: 401 });
    await expect(stack.send(clinic.apiKey, 'x', { 'content-type': 'text/plain' })).resolves.toMatchObject({ status: 415 });
    await eventually(async () => {
      const rows: Array<{ url: string; status: string }> = await stack.db.query(
        `SELECT s.url, d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id`,
      );
      const of = (r: TestReceiver) => rows.filter((x) => x.url === r.url).map((x) => x.status);
      return (
        of(receivers.ok!).length === 3 &&
        of(receivers.ok!).every((s) => s === 'succeeded') &&
        of(receivers.flaky!).every((s) => s === 'succeeded') &&
        of(receivers.broken!).every((s) => s === 'dead') &&
        of(receivers.gone!).length === 3 &&
        of(receivers.gone!).every((s) => s === 'parked' || s === 'cancelled')
      );
    }, 30_000, 'deliveries settled (succeeded, dead, parked)');
  }, 120_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await stack?.stop();
    for (const r of Object.values(receivers)) await r.stop();
  });

  it('scrapes all four apps, ingress on its ops port', async () => {
    const up = await query('up{job=~"switchyard-.*"}');
    expect(up.map((s) => [s.metric.job, s.metric.component, s.value[1]]).sort()).toEqual(
      APPS.map((a) => [`switchyard-${a}`, a, '1']).sort(),
    );
    expect(up.find((s) => s.metric.job === 'switchyard-ingress').metric.instance).toBe(new URL(stack.ingressOpsUrl).host);
  });

  it('loads every rule of the rule files, and each one evaluates healthy', async () => {
    const expected = ruleFiles().flatMap(ruleExprs).map((r) => r.name).sort();
    const rules = await eventually(async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: any[] }> } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length === expected.length && all.every((r) => r.health !== 'unknown') && all;
    }, 20_000, 'every rule evaluated');
    expect(rules.map((r: any) => r.name).sort()).toEqual(expected);
    expect(rules.filter((r: any) => r.health !== 'ok').map((r: any) => `${r.name}: ${r.health} ${r.lastError}`)).toEqual([]);
  });

  /** Every panel query of every dashboard, variables filled in as `values(dashboard)` says. */
  async function emptyPanels(values: (dashboard: string) => Record<string, string>): Promise<string[]> {
    const queries: PanelQuery[] = dashboardFiles().flatMap(dashboardQueries);
    expect(queries.length).toBeGreaterThan(25);
    let empty: string[] = [];
    // A series needs two scrapes to have a rate: give new series a few seconds.
    await eventually(async () => {
      empty = [];
      for (const q of queries) {
        const expr = fillGrafanaVariables(q.expr, values(q.dashboard));
        if ((await query(expr)).length === 0) empty.push(`${q.dashboard} "${q.panel}" ${q.refId}: ${expr}`);
      }
      return empty.length === 0;
    }, 20_000, 'every panel to return a series').catch(() => undefined);
    return empty;
  }

  it('returns at least one series for every dashboard panel query, with every variable on "All"', async () => {
    const all = (dashboard: string) =>
      Object.fromEntries(dashboardVariables(dashboard).map((v) => [v.name, v.allValue ?? '.*']));
    expect(await emptyPanels(all)).toEqual([]);
  });

  it("gets values for every dashboard variable from its own query, and each value's panels have series", async () => {
    const chosen: Record<string, Record<string, string>> = {};
    for (const dashboard of dashboardFiles()) {
      chosen[dashboard] = {};
      for (const v of dashboardVariables(dashboard)) {
        const m = /^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$/.exec(v.query ?? '');
        expect({ variable: v.name, query: v.query, supported: !!m }).toEqual({ variable: v.name, query: v.query, supported: true });
        const res = await fetch(`${promUrl}/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(m![1]!)}`);
        const values = ((await res.json()) as { data: string[] }).data.filter((x) => x !== '');
        expect({ variable: v.name, values: values.length > 0 }).toEqual({ variable: v.name, values: true });
        // One real value: the clinic of the traffic above, an event type, an outcome.
        chosen[dashboard]![v.name] = values.includes('shipment:created') ? 'shipment:created' : values.includes('http_error') ? 'http_error' : values[0]!;
      }
    }
    expect(await emptyPanels((d) => chosen[d]!)).toEqual([]);
  });

  it('promtool lints every app’s metrics clean (apart from prom-client’s default process metrics)', async () => {
    for (const app of APPS) {
      const text = await (await fetch(`${stack.opsUrls.get(app)}/metrics`)).text();
      let out = '';
      let status: number | null = 0;
      try {
        out = execFileSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; status?: number | null };
        out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
        status = e.status ?? null;
      }
      // A failing promtool must say why: an exit without output would otherwise read as "no problems".
      expect({ app, status, saidWhy: status === 0 || out.trim().length > 0 }).toEqual({ app, status, saidWhy: true });
      // prom-client's default metrics (not ours) name gauges with _total: promtool of Prometheus 2.42 objects.
      const problems = out
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .filter((l) => !/^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
      expect({ app, problems }).toEqual({ app, problems: [] });
    }
  });
});

describe('fillGrafanaVariables', () => {
  it('replaces built-ins and dashboard variables in all three spellings, and refuses an unknown one', () => {
    expect(fillGrafanaVariables('rate(x{a=~"$clinic",b=~"${outcome}",c="[[event_type]]"}[$__rate_interval])', { clinic: 'c1', outcome: '.*', event_type: 'e' })).toBe(
      'rate(x{a=~"c1",b=~".*",c="e"}[1m])',
    );
    expect(() => fillGrafanaVariables('x{a="$nope"}', {})).toThrow(/unknown Grafana variable \$nope/);
  });
});
