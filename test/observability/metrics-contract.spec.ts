/**
 * The dashboards and alert rules name only metrics the apps really export. Real traffic (accepted,
 * duplicate, rejected events; deliveries that fail once, fail for good, and answer 410) goes through the
 * three apps, their /metrics are scraped, and every metric named in a dashboard or rule expression must
 * have a sample. Everything here comes from npm; the same files against a real Prometheus server and
 * promtool (rule unit tests, rule and metrics lint) are the ops tier: test/ops, `npm run test:ops`.
 */
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { dashboardFiles, dashboardQueries, dashboardVariables, metricNamesIn, ruleExprs, ruleFiles } from './support/monitoring-files';
import { Receiver, Stack, eventually, startReceiver, startStack } from './support/stack';

/** Metrics Prometheus itself creates for every target; they cannot appear in an app's output. */
const SYNTHETIC = new Set(['up']);

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
    ...dashboardFiles().flatMap((f) => [
      ...dashboardQueries(f).map(({ expr }) => ({ where: `grafana/dashboards/${f}`, expr })),
      ...dashboardVariables(f).flatMap((v) => (v.query ? [{ where: `grafana/dashboards/${f}`, expr: v.query }] : [])),
    ]),
    ...ruleFiles().flatMap((f) => ruleExprs(f).map(({ expr }) => ({ where: `prometheus/${f}`, expr }))),
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
});
