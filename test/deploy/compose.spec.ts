/**
 * docker-compose.yml checked against libs/config and the repository (no Docker engine runs on the
 * test machines, so this reads the file the way compose would: anchors and `<<` merges resolved).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig } from '@switchyard/config';
import { Obj, appPorts, apps, defaults, isKnownEnvName, readYamlFile, repoPath } from './deploy-support';

const compose = readYamlFile('docker-compose.yml');
const services = compose.services as Record<string, Obj>;
const switchyardServices = ['setup', ...apps] as const;

const envOf = (name: string): Record<string, string> => {
  const env = services[name].environment;
  expect(Array.isArray(env)).toBe(false); // map form, so names can be checked
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v)]));
};
/** "127.0.0.1:8080:8080" | "8080:8080" | "8080" → the container port. */
const containerPorts = (name: string): number[] =>
  (services[name].ports ?? []).map((p: string | Obj) => Number(typeof p === 'string' ? p.split(':').pop() : p.target));
const dependsOn = (name: string): Record<string, { condition: string }> => services[name].depends_on ?? {};
/** The local file of a bind mount "./x:/y[:ro]", or undefined for a named volume. */
const bindSource = (mount: string): string | undefined => (mount.startsWith('./') ? mount.split(':')[0] : undefined);

describe('docker-compose.yml', () => {
  it('builds every Switchyard service from deploy/docker/Dockerfile and runs the app named in its command', () => {
    for (const name of switchyardServices) {
      const s = services[name];
      expect(s.build).toEqual({ context: '.', dockerfile: 'deploy/docker/Dockerfile' });
      expect(s.command).toEqual([name]);
      expect(s.entrypoint).toBeUndefined();
    }
    expect(existsSync(repoPath('deploy/docker/Dockerfile'))).toBe(true);
  });

  it('sets only libs/config and OTEL_* variables, and each app environment passes loadConfig', () => {
    for (const name of switchyardServices) {
      const env = envOf(name);
      expect(Object.keys(env).filter((k) => !isKnownEnvName(k))).toEqual([]);
      const cfg = loadConfig(env);
      expect(cfg.ALLOW_INSECURE_SUBSCRIBER_URLS).toBe(true);
      expect(env.ADMIN_TOKEN).toBeDefined();
      expect(env.KEY_PEPPER).toBeDefined();
      expect(env.OTEL_SERVICE_NAME).toBe(`switchyard-${name}`);
    }
  });

  it('publishes and health-checks each app on its libs/config default port', () => {
    for (const app of apps) {
      const cfg = loadConfig(envOf(app));
      const port = cfg[appPorts[app].httpVar];
      expect(port).toBe(appPorts[app].http);
      expect(containerPorts(app)).toContain(port);
      const test = services[app].healthcheck?.test as string[];
      expect(test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
      expect(services[app].healthcheck.interval).toBeDefined();
    }
  });

  it('points the apps at the compose services for NATS, Postgres, dedupe and the OTLP backend', () => {
    const pg = services.postgres.environment;
    for (const name of switchyardServices) {
      const cfg = loadConfig(envOf(name));
      expect(new URL(cfg.NATS_URL).host).toBe('nats:4222');
      const db = new URL(cfg.DATABASE_URL);
      expect([db.hostname, db.username, db.password, db.pathname]).toEqual([
        'postgres',
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        `/${pg.POSTGRES_DB}`,
      ]);
      expect(cfg.DEDUPE_GRPC_URL).toBe(`dedupe:${defaults.DEDUPE_GRPC_PORT}`);
      expect(loadConfig(envOf('dedupe')).DEDUPE_GRPC_PORT).toBe(defaults.DEDUPE_GRPC_PORT);
      const otlp = new URL(envOf(name).OTEL_EXPORTER_OTLP_ENDPOINT);
      expect(services[otlp.hostname]).toBeDefined();
      expect(otlp.port).toBe('4318');
    }
  });

  it('runs setup once, after NATS and Postgres are healthy, and starts the apps only after it succeeded', () => {
    expect(services.setup.restart).toBe('no');
    expect(dependsOn('setup')).toEqual({
      nats: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
    for (const app of apps) {
      expect(dependsOn(app).setup).toEqual({ condition: 'service_completed_successfully' });
    }
    expect(dependsOn('ingress').dedupe).toEqual({ condition: 'service_healthy' });
  });

  it('waits only on services that exist and, for service_healthy, have a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d: string) => [d, {}])) : dependsOn(name);
      for (const [dep, spec] of Object.entries(deps as Record<string, { condition?: string }>)) {
        expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
        if (spec.condition === 'service_healthy') expect(services[dep].healthcheck?.test).toBeDefined();
      }
    }
  });

  it('keeps NATS JetStream and Postgres data in named volumes, with healthchecks', () => {
    const nats = services.nats;
    const args = nats.command as string[];
    expect(args).toContain('-js');
    const storeDir = args[args.indexOf('-sd') + 1];
    expect(nats.volumes).toContainEqual(`nats-data:${storeDir}`);
    expect(services.postgres.volumes).toContainEqual('postgres-data:/var/lib/postgresql/data');
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['nats-data', 'postgres-data']));
    expect(nats.healthcheck.test).toBeDefined();
    expect(services.postgres.healthcheck.test).toContain('pg_isready');
  });

  it('mounts only files and directories that exist in the repository', () => {
    const mounts = Object.values(services).flatMap((s) => (s.volumes ?? []) as string[]);
    const binds = mounts.map(bindSource).filter((m): m is string => !!m);
    expect(binds.length).toBeGreaterThanOrEqual(5);
    for (const b of binds) expect({ b, exists: existsSync(repoPath(b)) }).toEqual({ b, exists: true });
    for (const m of mounts.filter((v) => !bindSource(v))) expect(compose.volumes).toHaveProperty(m.split(':')[0]);
  });

  it('lets Prometheus scrape /metrics of all four apps and load the rules of deploy/prometheus', () => {
    const mounts = services.prometheus.volumes as string[];
    const configMount = mounts.find((m) => m.includes(':/etc/prometheus/prometheus.yml'));
    const prom = parse(readFileSync(repoPath(bindSource(configMount!)!), 'utf8')) as Obj;
    const targets = (prom.scrape_configs as Obj[]).flatMap((j) => j.static_configs.flatMap((s: Obj) => s.targets));
    for (const app of apps) expect(targets).toContain(`${app}:${appPorts[app].http}`);
    expect((prom.scrape_configs as Obj[]).every((j) => (j.metrics_path ?? '/metrics') === '/metrics')).toBe(true);

    const rulesMount = mounts.find((m) => bindSource(m) === './deploy/prometheus');
    expect(rulesMount).toBeDefined();
    const rulesDir = rulesMount!.split(':')[1];
    expect(prom.rule_files).toEqual(expect.arrayContaining([`${rulesDir}/*.yml`]));
  });

  it('provisions Grafana with the Prometheus datasource and the dashboards of deploy/grafana/dashboards', () => {
    const mounts = services.grafana.volumes as string[];
    const target = (src: string) => mounts.find((m) => bindSource(m) === src)?.split(':')[1];
    const dashboardsDir = target('./deploy/grafana/dashboards');
    expect(dashboardsDir).toBeDefined();
    const providers = parse(readFileSync(repoPath('deploy/compose/grafana-dashboards.yaml'), 'utf8')) as Obj;
    expect(providers.providers[0].options.path).toBe(dashboardsDir);
    expect(target('./deploy/compose/grafana-dashboards.yaml')).toMatch(/^\/etc\/grafana\/provisioning\/dashboards\//);
    const ds = parse(readFileSync(repoPath('deploy/compose/grafana-datasources.yaml'), 'utf8')) as Obj;
    expect(target('./deploy/compose/grafana-datasources.yaml')).toMatch(/^\/etc\/grafana\/provisioning\/datasources\//);
    const prometheus = (ds.datasources as Obj[]).find((d) => d.type === 'prometheus');
    expect(prometheus?.url).toBe('http://prometheus:9090');
  });

  it('runs the demo receiver from the same image with a script the image contains', () => {
    const r = services['demo-receiver'];
    expect(r.image).toBe(services.ingress.image);
    const script = (r.entrypoint as string[])[1];
    expect(existsSync(repoPath(script))).toBe(true);
    expect(readFileSync(repoPath('deploy/docker/Dockerfile'), 'utf8')).toContain(`COPY --chown=root:root ${script}`);
  });
});
