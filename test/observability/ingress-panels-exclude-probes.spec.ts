/**
 * Ingress's own request metrics also count its ops routes: the kubelet's /healthz and /readyz probes are
 * switchyard_http_requests_total{app="ingress"} too (only /metrics is left out), and /readyz answers 503
 * whenever a dependency is down. A dashboard panel or alert about what Nimbus sees must therefore select
 * the webhook route: otherwise the probes dilute the 5xx ratio at night (a webhook failure rate of 100 %
 * read as ~25 % with one event every 10 s) and readiness 503s of a pod that Nimbus cannot even reach read
 * as failed webhooks. Real apps are scraped after probe and webhook traffic, and every selector of the
 * request metrics with app="ingress" in the dashboards and rules is matched against the series scraped.
 */
import { dashboardFiles, dashboardQueries, ruleExprs, ruleFiles } from './support/monitoring-files';
import { TestStack } from '../support/stack';

const HTTP_METRICS = /\b(switchyard_http_requests_total|switchyard_http_request_duration_seconds_(?:bucket|count|sum))\{([^}]*)\}/g;
const PROBE_ROUTES = ['/healthz', '/readyz'];

type Labels = Record<string, string>;
interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** The label matchers of a selector's braces (`app="ingress",status=~"5.."`). */
function parseMatchers(braces: string): Matcher[] {
  return [...braces.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => ({ label: m[1]!, op: m[2] as Matcher['op'], value: m[3]!.replace(/\\(.)/g, '$1') }));
}

/** Whether a series' labels satisfy every matcher, as Prometheus reads them (regexes anchored, absent label = ""). */
function matches(labels: Labels, matchers: Matcher[]): boolean {
  return matchers.every(({ label, op, value }) => {
    const v = labels[label] ?? '';
    if (op === '=') return v === value;
    if (op === '!=') return v !== value;
    const re = new RegExp(`^(?:${value})$`);
    return op === '=~' ? re.test(v) : !re.test(v);
  });
}

/** Sample name → label sets of the Prometheus text. */
function series(text: string): Map<string, Labels[]> {
  const out = new Map<string, Labels[]>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} /.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), labels]);
  }
  return out;
}

describe('ingress panels and alerts about webhooks do not count the probes', () => {
  let stack: TestStack;
  let scraped: Map<string, Labels[]>;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['dedupe', 'ingress']);
    for (const path of PROBE_ROUTES) expect((await fetch(`${stack.ingressOpsUrl}${path}`)).status).toBe(200);
    expect((await stack.send(undefined, {})).status).toBe(401);
    scraped = series(await (await fetch(`${stack.ingressOpsUrl}/metrics`)).text());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const selectors = () =>
    [
      ...dashboardFiles().flatMap((f) => dashboardQueries(f).map((q) => ({ where: `${f}: ${q.panel}`, expr: q.expr }))),
      ...ruleFiles().flatMap((f) => ruleExprs(f).map((r) => ({ where: `${f}: ${r.name}`, expr: r.expr }))),
    ].flatMap(({ where, expr }) =>
      [...expr.matchAll(HTTP_METRICS)]
        .map((m) => ({ where, metric: m[1]!, matchers: parseMatchers(m[2]!) }))
        .filter((s) => matches({ app: 'ingress' }, s.matchers.filter((x) => x.label === 'app')) && s.matchers.some((x) => x.label === 'app')),
    );

  it('reads the selectors, and matches them as Prometheus does', () => {
    expect(selectors().length).toBeGreaterThanOrEqual(4);
    const m = parseMatchers('app="ingress",route="/webhooks/nimbus",status=~"5.."');
    expect(matches({ app: 'ingress', route: '/webhooks/nimbus', status: '503' }, m)).toBe(true);
    expect(matches({ app: 'ingress', route: '/readyz', status: '503' }, m)).toBe(false);
    expect(matches({ app: 'ingress', route: '/readyz', status: '503' }, parseMatchers('app="ingress",status=~"5.."'))).toBe(true);
    expect(matches({ app: 'ingress', route: '/readyz' }, parseMatchers('app="ingress",route!~"/(healthz|readyz)"'))).toBe(false);
  });

  it('scraped the probes and the webhook under app="ingress"', () => {
    const routes = (scraped.get('switchyard_http_requests_total') ?? []).filter((l) => l.app === 'ingress').map((l) => l.route);
    expect(routes).toEqual(expect.arrayContaining([...PROBE_ROUTES, '/webhooks/nimbus']));
  });

  it('selects no probe series', () => {
    const wrong: string[] = [];
    for (const { where, metric, matchers } of selectors()) {
      const picked = (scraped.get(metric) ?? []).filter((l) => matches(l, matchers));
      for (const l of picked) if (PROBE_ROUTES.includes(l.route!)) wrong.push(`${where}: ${metric} picks route ${l.route}`);
    }
    expect([...new Set(wrong)]).toEqual([]);
  });
});
