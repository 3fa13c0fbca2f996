/**
 * The chart against Kubernetes' own schemas. Every object helm renders — with the default values, and with
 * values-production.example.yaml plus every optional switch on (fixtures/values-all-switches.yaml) — is
 * rendered for, and validated against, the oldest and the newest Kubernetes release the chart claims:
 *  - the oldest is the lower bound of Chart.yaml's kubeVersion (1.27): helm refuses anything older;
 *  - the newest is the newest release whose schemas are published (kubernetes-models 5.1.0 is generated
 *    from Kubernetes 1.36). kubeVersion has no upper bound on purpose: the chart uses only GA APIs
 *    (apps/v1, batch/v1, autoscaling/v2, policy/v1, networking.k8s.io/v1, v1), which Kubernetes does not
 *    remove within a major version, and an upper bound would refuse every newer cluster until a release.
 *    When a newer kubernetes-models appears, move NEWEST (and scripts/tools/k8s-schemas) to it.
 * Three checks: kubernetes-models' JSON Schema (types, required fields, enums, kinds a release serves),
 * its TypeScript types (fields the schema does not know: a misspelled field passes JSON Schema), and
 * test/deploy/k8s-rules.ts (what the API server checks beyond the schema: port ranges, names,
 * references). fixtures/broken-objects.yaml proves each check fails on the mistakes it is for.
 * The schemas come from npm (scripts/tools/fetch-k8s-schemas.js), so this runs in `npm test`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Obj, chartDir, helm, parseYamlStream, productionValues, removeHelmHome, render, repoPath } from './deploy-support';
import { apiServerRules, isPortName } from './k8s-rules';

const OLDEST = '1.27';
const NEWEST = '1.36';
const allSwitches = repoPath('test/deploy/fixtures/values-all-switches.yaml');
const broken = parseYamlStream(readFileSync(repoPath('test/deploy/fixtures/broken-objects.yaml'), 'utf8'));

interface Finding {
  set: string;
  object: string;
  check: 'schema' | 'fields';
  message: string;
}
interface Validation {
  kubernetes: string;
  checked: Record<string, string[]>;
  errors: Finding[];
}

let validator = '';
function validate(kubernetes: string, sets: Record<string, Obj[]>): Validation {
  const out = execFileSync(process.execPath, [join(validator, 'validate.mjs')], {
    input: JSON.stringify({ kubernetes, sets }),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Validation;
}

const renderAt = (release: string, args: string[] = []) => render([...args, '--kube-version', `${release}.0`]);
const valueSets = {
  'default values': [] as string[],
  'production values, every switch on': ['-f', productionValues, '-f', allSwitches],
};

beforeAll(() => {
  expect(helm(['version', '--short'])).toMatch(/^v\d+/);
  validator = execFileSync(process.execPath, [repoPath('scripts/tools/fetch-k8s-schemas.js')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}, 300_000);

afterAll(removeHelmHome);

describe('the Kubernetes versions the chart claims', () => {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Obj;

  it(`declares kubeVersion with ${OLDEST} as its oldest release`, () => {
    expect(chart.kubeVersion).toBe(`>=${OLDEST}.0-0`);
  });

  it('refuses to render for a release older than that, and renders for the oldest and the newest', () => {
    expect(() => renderAt('1.26')).toThrow(/kubeVersion|incompatible/i);
    expect(renderAt(OLDEST).length).toBeGreaterThan(10);
    expect(renderAt(NEWEST).length).toBeGreaterThan(10);
  });

});

describe.each([OLDEST, NEWEST])('rendered for Kubernetes %s', (release) => {
  let result: Validation;
  let rendered: Record<string, Obj[]>;

  beforeAll(() => {
    rendered = Object.fromEntries(Object.entries(valueSets).map(([name, args]) => [name, renderAt(release, args)]));
    result = validate(release, { ...rendered, broken });
  }, 120_000);

  it('renders every kind the switches turn on', () => {
    const kinds = (set: string) => [...new Set(rendered[set]!.map((o) => o.kind))].sort();
    expect(kinds('default values')).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Job', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Service'],
    );
    expect(kinds('production values, every switch on')).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Job', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceMonitor'],
    );
    expect(result.checked['production values, every switch on']).toHaveLength(rendered['production values, every switch on']!.length);
  });

  it.each(Object.keys(valueSets))('every object of %s passes the schema and has only known fields', (set) => {
    expect(result.checked[set]!.length).toBeGreaterThan(10);
    expect(result.errors.filter((e) => e.set === set)).toEqual([]);
  });

  it.each(Object.keys(valueSets))('every object of %s passes the API server rules the schema lacks', (set) => {
    expect(apiServerRules(rendered[set]!)).toEqual([]);
  });

  it('catches each mistake of the broken fixture, with the check meant for it', () => {
    const found = (object: string, check: string, pattern: RegExp) =>
      result.errors.some((e) => e.set === 'broken' && e.object === object && e.check === check && pattern.test(e.message));
    expect({
      'replicas: two': found('Deployment/broken-web', 'schema', /replicas.*must be integer/),
      imagePullPolicyy: found('Deployment/broken-web', 'fields', /imagePullPolicyy/),
      selectr: found('Service/broken-web', 'fields', /selectr/),
      'endpoint port 9090': found('ServiceMonitor/broken-web', 'schema', /port.*must be string/),
      intervall: found('ServiceMonitor/broken-web', 'fields', /intervall/),
      'kind Deploymnet': found('Deploymnet/broken-kind', 'schema', /apps\/v1 Deploymnet does not exist in Kubernetes/),
    }).toEqual({
      'replicas: two': true,
      imagePullPolicyy: true,
      selectr: true,
      'endpoint port 9090': true,
      intervall: true,
      'kind Deploymnet': true,
    });
  });
});

describe('API server rules (test/deploy/k8s-rules.ts)', () => {
  it('catches each mistake of the broken fixture meant for them', () => {
    const problems = apiServerRules(broken);
    const has = (pattern: RegExp) => problems.some((p) => pattern.test(p));
    expect({
      'containerPort 70000': has(/Deployment\/broken-web: container web port 70000 is outside 1-65535/),
      'probe port metrics': has(/readinessProbe uses port "metrics"/),
      'targetPort htp': has(/Service\/broken-web: its selector selects no pod/),
      'name Broken_Web': has(/HorizontalPodAutoscaler\/Broken_Web: "Broken_Web" is not a valid/),
      'no-such-deployment': has(/scale target Deployment\/no-such-deployment is not part of the release/),
      'policy/v1beta1': has(/PodDisruptionBudget\/broken-web: apiVersion policy\/v1beta1 is not GA/),
    }).toEqual({
      'containerPort 70000': true,
      'probe port metrics': true,
      'targetPort htp': true,
      'name Broken_Web': true,
      'no-such-deployment': true,
      'policy/v1beta1': true,
    });
  });

  it('checks a Service targetPort against the ports of the pods it selects', () => {
    const fixed = broken.map((o) => (o.kind === 'Service' ? { ...o, spec: { selector: o.spec.selectr, ports: o.spec.ports } } : o));
    expect(apiServerRules(fixed)).toContain('Service/broken-web: targetPort "htp" is not a port of Deployment/broken-web');
  });

  it('knows IANA service names', () => {
    expect(['http', 'grpc', 'webhooks', 'h2c-9'].map(isPortName)).toEqual([true, true, true, true]);
    expect(['HTTP', 'a-very-long-port-name', '8080', 'a--b', '-a'].map(isPortName)).toEqual([false, false, false, false, false]);
  });
});
