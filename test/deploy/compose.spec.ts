/**
 * docker-compose.yml checked against libs/config and the repository (no Docker engine runs on the test
 * machines, so this reads the file the way compose would: `${VAR:-default}` interpolated from an env file,
 * anchors and `<<` merges resolved, services of inactive profiles dropped). Both ways it runs: plain
 * `docker compose up`, and with deploy/compose/cluster.env (profile `cluster`: a 3-node NATS cluster,
 * which is also started here from its own config file with real nats-server processes).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { jetstreamManager } from '@nats-io/jetstream';
import { fanoutDrainMs, loadConfig, parseDuration } from '@switchyard/config';
import { subjectsFor } from '@switchyard/contracts';
import { connectNats, ensureStreams } from '@switchyard/messaging';
import { entrypointFor } from '../../scripts/node-flags';
import { freePort } from '../support/free-port';
import { Obj, appPorts, apps, defaults, isKnownEnvName, repoPath } from './deploy-support';

/** KEY=value lines (comments and blanks ignored), as `docker compose --env-file` reads them. */
function readEnvFile(relPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(repoPath(relPath), 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return env;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR, and $$ for a literal $. */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}|\$(\w+)/g, (match, name, op, fallback, bare) => {
    if (match === '$$') return '$';
    const key = name ?? bare;
    const value = env[key];
    if (op === ':-') return value ? value : fallback;
    if (op === '-') return value !== undefined ? value : fallback;
    return value ?? '';
  });
}

/** The project as compose builds it from docker-compose.yml and an env file's variables. */
function renderCompose(env: Record<string, string> = {}): Obj {
  const doc = parse(interpolate(readFileSync(repoPath('docker-compose.yml'), 'utf8'), env), { merge: true }) as Obj;
  const active = new Set((env.COMPOSE_PROFILES ?? '').split(',').filter(Boolean));
  const services: Record<string, Obj> = {};
  for (const [name, s] of Object.entries(doc.services as Record<string, Obj>)) {
    if (!s.profiles || s.profiles.some((p: string) => active.has(p))) services[name] = s;
  }
  for (const [name, s] of Object.entries(services)) {
    if (!s.depends_on || Array.isArray(s.depends_on)) continue;
    for (const [dep, spec] of Object.entries(s.depends_on as Record<string, Obj>)) {
      if (services[dep]) continue;
      if (spec.required === false) delete s.depends_on[dep];
      else throw new Error(`${name} depends on ${dep}, which is not enabled`);
    }
  }
  return { ...doc, services };
}

const compose = renderCompose();
const services = compose.services as Record<string, Obj>;
const clusterEnv = readEnvFile('deploy/compose/cluster.env');
const clustered = renderCompose(clusterEnv);
const switchyardServices = ['setup', ...apps] as const;

const envOf = (name: string, project: Obj = compose): Record<string, string> => {
  const env = project.services[name].environment;
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
      // The image's entrypoint, or the same with the app's own Node flags where they differ from the image's.
      expect(s.entrypoint).toEqual(entrypointFor(name));
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

  it('lets a stopping fan-out drain: its stop_grace_period covers fanoutDrainMs and 2 s to close', () => {
    expect(parseDuration(String(services.fanout.stop_grace_period))).toBeGreaterThanOrEqual(fanoutDrainMs(loadConfig(envOf('fanout'))) + 2_000);
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
    const mounts = [...Object.values(services), ...Object.values(clustered.services as Record<string, Obj>)].flatMap(
      (s) => (s.volumes ?? []) as string[],
    );
    const binds = mounts.map(bindSource).filter((m): m is string => !!m);
    expect(binds.length).toBeGreaterThanOrEqual(5);
    for (const b of binds) expect({ b, exists: existsSync(repoPath(b)) }).toEqual({ b, exists: true });
    for (const m of mounts.filter((v) => !bindSource(v))) expect(clustered.volumes).toHaveProperty(m.split(':')[0]!);
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

describe('docker-compose.yml next to services already on the machine', () => {
  it('publishes NATS and Postgres on other host ports than 4222 and 5432, and on loopback only', () => {
    const published = (name: string) => (services[name].ports as string[]).map((p) => p.split(':'));
    for (const [ip, host, container] of [...published('nats'), ...published('postgres')]) {
      expect(ip).toBe('127.0.0.1');
      expect(['4222', '5432', '8222']).not.toContain(host);
      expect(['4222', '5432', '8222']).toContain(container);
    }
  });

  it('publishes no host port twice', () => {
    for (const project of [compose, clustered]) {
      const hostPorts = Object.values(project.services as Record<string, Obj>).flatMap((s) =>
        ((s.ports ?? []) as string[]).map((p) => p.split(':').slice(0, -1).join(':')),
      );
      expect(hostPorts.filter((p, i) => hostPorts.indexOf(p) !== i)).toEqual([]);
    }
  });
});

describe('the cluster profile (docker compose --env-file deploy/compose/cluster.env up)', () => {
  const nodes = ['nats-1', 'nats-2', 'nats-3'];
  const cs = clustered.services as Record<string, Obj>;
  const confMount = '/etc/nats/cluster.conf';
  const natsConf = readFileSync(repoPath('deploy/compose/nats-cluster.conf'), 'utf8');

  it('turns on the profile: three NATS nodes only then, each with the config file, its own name and store', () => {
    expect(clusterEnv.COMPOSE_PROFILES).toBe('cluster');
    for (const n of nodes) expect(services[n]).toBeUndefined();
    const names = nodes.map((n) => cs[n].environment.SERVER_NAME);
    expect(names).toEqual(nodes);
    for (const n of nodes) {
      expect(cs[n].profiles).toEqual(['cluster']);
      expect(cs[n].command).toEqual(['-c', confMount]);
      expect(cs[n].volumes).toContain(`./deploy/compose/nats-cluster.conf:${confMount}:ro`);
      expect(cs[n].volumes).toContain(`${n}-data:/data`);
      expect(Object.keys(clustered.volumes)).toContain(`${n}-data`);
      expect(cs[n].healthcheck.test.join(' ')).toContain('js-enabled-only=true');
    }
  });

  it('routes every node to all three and keeps JetStream in the mounted store', () => {
    const routes = [...natsConf.matchAll(/nats-route:\/\/([\w-]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(routes).toEqual(nodes.map((n) => `${n}:6222`));
    expect(natsConf).toMatch(/server_name: \$SERVER_NAME/);
    expect(natsConf).toMatch(/cluster \{[^}]*listen: 0\.0\.0\.0:6222/);
    expect(natsConf).toMatch(/jetstream \{\s*store_dir: \/data\s*\}/);
    expect(natsConf).toMatch(/listen: 0\.0\.0\.0:4222/);
  });

  it('points every Switchyard service at the three nodes with STREAM_REPLICAS=3, and the config accepts it', () => {
    for (const name of switchyardServices) {
      const cfg = loadConfig(envOf(name, clustered));
      expect(cfg.NATS_URL.split(',').map((u) => new URL(u).host)).toEqual(nodes.map((n) => `${n}:4222`));
      expect(cfg.STREAM_REPLICAS).toBe(3);
    }
    // …and without the env file, at the single server with one replica.
    expect(loadConfig(envOf('setup')).NATS_URL).toBe('nats://nats:4222');
    expect(loadConfig(envOf('setup')).STREAM_REPLICAS).toBe(1);
  });

  it('creates the streams only once all three nodes are healthy', () => {
    for (const n of nodes) expect(cs.setup.depends_on[n]).toEqual({ condition: 'service_healthy', required: false });
    for (const n of nodes) expect(services.setup.depends_on[n]).toBeUndefined();
  });

  describe('started for real from deploy/compose/nats-cluster.conf (nats-server on loopback)', () => {
    const procs: ChildProcess[] = [];
    let dir = '';
    let clientPorts: number[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'switchyard-compose-cluster-'));
      clientPorts = [await freePort(), await freePort(), await freePort()];
      const routePorts = [await freePort(), await freePort(), await freePort()];
      nodes.forEach((n, i) => {
        // The compose file's hosts and ports, mapped to loopback; everything else as shipped.
        let conf = natsConf
          .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${clientPorts[i]}`)
          .replace(/http: 0\.0\.0\.0:8222\n/, '')
          .replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${routePorts[i]}`)
          .replace('store_dir: /data', `store_dir: ${join(dir, n)}`);
        nodes.forEach((m, j) => (conf = conf.replace(`nats-route://${m}:6222`, `nats-route://127.0.0.1:${routePorts[j]}`)));
        writeFileSync(join(dir, `${n}.conf`), conf);
        procs.push(spawn('/usr/sbin/nats-server', ['-c', join(dir, `${n}.conf`)], { env: { ...process.env, SERVER_NAME: n }, stdio: 'ignore' }));
      });
    });

    afterAll(async () => {
      await Promise.all(
        procs.map((p) => (p.exitCode === null ? new Promise((r) => (p.once('exit', r), p.kill('SIGTERM'))) : undefined)),
      );
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('forms a JetStream cluster in which Switchyard creates its stream on all three servers', async () => {
      const url = clientPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
      const deadline = Date.now() + 20_000;
      const subjects = subjectsFor('compose_cluster');
      let info: Awaited<ReturnType<Awaited<ReturnType<typeof jetstreamManager>>['streams']['info']>> | undefined;
      let last: unknown;
      while (!info && Date.now() < deadline) {
        const nc = await connectNats(url, 'compose-cluster-spec').catch((e) => ((last = e), undefined));
        if (nc) {
          try {
            await ensureStreams(nc, subjects, { replicas: 3, maxAgeMs: 60_000, maxBytes: -1, duplicateWindowMs: 60_000 });
            info = await (await jetstreamManager(nc)).streams.info(subjects.inboundStream);
          } catch (e) {
            last = e; // the meta leader is still being elected
          } finally {
            await nc.close();
          }
        }
        if (!info) await new Promise((r) => setTimeout(r, 500));
      }
      expect({ created: !!info, last: info ? undefined : String(last) }).toEqual({ created: true, last: undefined });
      expect(info!.config.num_replicas).toBe(3);
      const servers = [info!.cluster!.leader, ...(info!.cluster!.replicas ?? []).map((r) => r.name)].sort();
      expect(servers).toEqual(nodes);
    }, 30_000);
  });
});

describe('docker compose config', () => {
  const hasCompose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  // The check needs Docker's compose plugin; the test machines have none (nor an engine), so there it is
  // reported as skipped, by name, rather than passing.
  const check = hasCompose ? it : it.skip;

  check.each([
    ['the default project', []],
    ['the cluster profile', ['--env-file', 'deploy/compose/cluster.env']],
  ])('renders %s (needs the Docker Compose v2 plugin; skipped where there is none)', (_label, args) => {
    const run = spawnSync('docker', ['compose', ...(args as string[]), 'config', '--quiet'], { cwd: repoPath(), encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

});
