/**
 * The dashboards and alert rules name only metrics the apps really export. Real traffic (accepted,
 * duplicate, rejected events; deliveries that fail once, fail for good, and answer 410) goes through the
 * three apps, their /metrics are scraped, and every metric named in a dashboard or rule expression must
 * have a sample. promtool then checks the rules file and lints the scraped text.
 *
 * promtool comes from Debian's `prometheus` package (`apt-get install -y --no-install-recommends prometheus`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { Receiver, Stack, eventually, startReceiver, startStack } from './support/stack';

const ROOT = join(__dirname, '..', '..');
const DASHBOARDS = join(ROOT, 'deploy', 'grafana', 'dashboards');
const RULES = join(ROOT, 'deploy', 'prometheus');

/** Metrics Prometheus itself creates for every target; they cannot appear in an app's output. */
const SYNTHETIC = new Set(['up']);

function promtool(): string {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error(
      'promtool is not installed: install it with `apt-get install -y --no-install-recommends prometheus` ' +
        '(Debian) so the alert rules and the metrics text can be checked.',
    );
  }
  return path;
}

/** Every `expr` of every panel target in a Grafana dashboard (templating queries included). */
function dashboardExprs(file: string): string[] {
  const model = JSON.parse(readFileSync(file, 'utf8'));
  const exprs: string[] = [];
  const walk = (panels: any[] = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      walk(p.panels);
    }
  };
  walk(model.panels);
  for (const v of model.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (v.type === 'query' && q) exprs.push(q);
  }
  return exprs;
}

/** Every `expr` of every rule: a loose YAML read is enough for this file's block scalars. */
function ruleExprs(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    if (m[2] && !/^[|>]-?$/.test(m[2].trim())) {
      exprs.push(m[2]);
      continue;
    }
    const indent = m[1]!.length;
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent)) block.push(lines[++i]!);
    exprs.push(block.join('\n'));
  }
  return exprs;
}

/** Metric names in a PromQL expression: `switchyard_*` identifiers and `up`, label matchers and strings removed. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/\b(switchyard_[a-zA-Z0-9_]+|up)\b(?!\s*\()/g)) names.add(m[1]!);
  return [...names];
}

/** Sample names in Prometheus text → the metric (family) names they belong to. */
function exportedFamilies(text: string): { families: Map<string, string>; samples: Set<string> } {
  const families = new Map<string, string>(); // name → type
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { families, samples };
}

/** Whether a referenced name (a family, or a histogram's _bucket/_sum/_count series) has a sample. */
function hasSample(name: string, exported: ReturnType<typeof exportedFamilies>): boolean {
  if (exported.samples.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && ['histogram', 'summary'].includes(exported.families.get(m[1]!) ?? '')) return exported.samples.has(name);
  // A histogram named by its family (e.g. in a label_values() query) exists when its series do.
  return ['histogram', 'summary'].includes(exported.families.get(name) ?? '') && exported.samples.has(`${name}_count`);
}

describe('metrics contract: dashboards and alerts name exported metrics', () => {
  let stack: Stack;
  let receiver: Receiver;
  let scraped: Record<string, string>;

  beforeAll(async () => {
    promtool(); // fail early and clearly when it is missing
    receiver = await startReceiver();
    receiver.script('/flaky', [500, 200]);
    receiver.script('/broken', [500]);
    receiver.script('/gone', [410]);
    stack = await startStack('metrics_contract', { METRICS_CLINIC_LABEL: 'true' });

    const { clinicId, apiKey } = await stack.createClinic();
    await stack.addSubscriber(clinicId, `${receiver.url}/flaky`);
    await stack.addSubscriber(clinicId, `${receiver.url}/broken`);
    await stack.addSubscriber(clinicId, `${receiver.url}/gone`);

    const event = clone(nimbusFixtures['shipment:created']);
    await expect(stack.send(apiKey, event)).resolves.toMatchObject({ status: 200, body: { received: true } });
    // Completing the claim is asynchronous: a resend that races it is answered 409 in_progress, then 200 duplicate.
    const duplicate = await eventually(async () => {
      const res = await stack.send(apiKey, event);
      return res.status !== 409 && res;
    });
    expect(duplicate).toMatchObject({ status: 200, body: { duplicate: true } });
    await expect(stack.send(apiKey, { event_name: 'shipment:created', event_data: {} })).resolves.toMatchObject({ status: 400 });
    await expect(stack.send('swy_not_a_key', event)).resolves.toMatchObject({ status: 401 });
    await expect(stack.send(apiKey, 'x', 'text/plain')).resolves.toMatchObject({ status: 415 });

    // flaky: fails, then succeeds on the retry; broken: fails twice and is dead-lettered; gone: disabled.
    await eventually(async () => {
      const rows = await stack.query<{ path: string; status: string }>(
        `SELECT s.url AS path, d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id`,
      );
      const by = (p: string) => rows.find((r) => r.path.endsWith(p))?.status;
      return by('/flaky') === 'succeeded' && by('/broken') === 'dead' && by('/gone') === 'parked';
    }, 15_000);

    scraped = {};
    for (const [app, url] of [
      ['ingress', stack.ingressMetricsUrl],
      ['dedupe', stack.dedupeMetricsUrl],
      ['fanout', stack.fanoutMetricsUrl],
    ] as const) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      scraped[app] = await res.text();
    }
  }, 30_000);

  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const sources = () => [
    ...readdirSync(DASHBOARDS)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => dashboardExprs(join(DASHBOARDS, f)).map((expr) => ({ where: `grafana/dashboards/${f}`, expr }))),
    ...readdirSync(RULES)
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => ruleExprs(join(RULES, f)).map((expr) => ({ where: `prometheus/${f}`, expr }))),
  ];

  it('finds the expressions (the parser is not silently reading nothing)', () => {
    const all = sources();
    expect(all.filter((s) => s.where.includes('overview')).length).toBeGreaterThan(15);
    expect(all.filter((s) => s.where.includes('tenants')).length).toBeGreaterThan(8);
    expect(all.filter((s) => s.where.startsWith('prometheus')).length).toBeGreaterThanOrEqual(10);
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le) (rate(switchyard_x_bucket{app="a",route="switchyard_no"}[5m]))) > up')).toEqual([
      'switchyard_x_bucket',
      'up',
    ]);
  });

  it('every metric a dashboard or rule names has samples in some app’s /metrics', () => {
    const exported = exportedFamilies(Object.values(scraped).join('\n'));
    const missing: string[] = [];
    expect(sources().length).toBeGreaterThan(25);
    for (const { where, expr } of sources()) {
      for (const name of metricNamesIn(expr)) {
        if (SYNTHETIC.has(name)) continue;
        if (!hasSample(name, exported)) missing.push(`${where}: ${name}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it('exports the per-clinic label when METRICS_CLINIC_LABEL is on, and each app only its own metrics', () => {
    expect(scraped.ingress).toMatch(/switchyard_ingress_events_total\{[^}]*result="accepted"[^}]*clinic_id="[0-9a-f-]{36}"/);
    expect(scraped.fanout).toMatch(/switchyard_delivery_attempts_total\{[^}]*clinic_id="[0-9a-f-]{36}"/);
    expect(scraped.ingress).not.toContain('switchyard_deliveries_in_flight');
    expect(scraped.fanout).not.toContain('switchyard_ingress_events_total');
    expect(scraped.ingress).toMatch(/switchyard_ingress_events_total\{[^}]*result="rejected"[^}]*reason="unauthorized"/);
    expect(scraped.ingress).toMatch(/switchyard_dependency_up\{[^}]*dependency="dedupe"[^}]*\} 1/);
  });

  it('promtool accepts the rules files', () => {
    const files = readdirSync(RULES)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => join(RULES, f));
    const run = spawnSync(promtool(), ['check', 'rules', ...files], { encoding: 'utf8' });
    expect({ status: run.status, output: `${run.stdout}${run.stderr}` }).toMatchObject({ status: 0 });
  });

  it('promtool lints the scraped metrics clean (apart from prom-client’s default process metrics)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-'));
    for (const [app, text] of Object.entries(scraped)) {
      const file = join(dir, `${app}.prom`);
      writeFileSync(file, text);
      let output = '';
      let status: number | null = 0;
      try {
        output = execFileSync(promtool(), ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; status?: number | null };
        output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
        status = e.status ?? null;
      }
      // A failing promtool must say why: an exit without output would otherwise read as "no problems".
      expect({ app, status, saidWhy: status === 0 || output.trim().length > 0 }).toEqual({ app, status, saidWhy: true });
      // prom-client's default metrics (not ours) name gauges with _total; see shared/TOOLCHAIN.md.
      const problems = output
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .filter((l) => !/^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
      expect({ app, problems }).toEqual({ app, problems: [] });
    }
  });
});
