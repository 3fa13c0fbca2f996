#!/usr/bin/env node
/**
 * A local 3-server NATS cluster with JetStream, for running Switchyard the way production does
 * (`STREAM_REPLICAS=3`) on one machine (see docs/SCALING.md):
 *
 *   npm run nats:cluster                                  servers on 127.0.0.1:4301-4303, routes on 6301-6303
 *   node dist/scripts/nats-cluster.js --port 5301 --dir /tmp/c --nats-server /usr/local/bin/nats-server
 *
 * It prints the NATS_URL to use, keeps the servers in the foreground and stops them on Ctrl-C; their
 * store directories (and logs) stay in --dir, so a restart keeps the streams. The test tier uses the
 * `NatsCluster` class on free ports (test/scale).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';

export interface NatsClusterOptions {
  /** Client ports of the servers, one each (3 for the usual cluster). */
  clientPorts: number[];
  /** Route (cluster) ports, one per server. */
  routePorts: number[];
  /** Each server keeps `<dir>/<name>/` (store) and `<dir>/<name>.conf`, `<dir>/<name>.log`. */
  dir: string;
  /** The nats-server binary (2.9 or later). */
  binary?: string;
  host?: string;
  clusterName?: string;
}

export interface NatsNode {
  /** `server_name`, as JetStream reports it in stream info (`cluster.leader`). */
  name: string;
  clientPort: number;
  routePort: number;
  configFile: string;
  logFile: string;
  proc?: ChildProcess;
}

/** The nats-server on PATH, else Debian's /usr/sbin/nats-server. */
export function findNatsServer(): string {
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : '/usr/sbin/nats-server';
}

/**
 * Three (or more) `nats-server -js` processes on loopback, each routed to all the others, each with its own
 * store directory. Servers can be killed and restarted one by one (a restarted server keeps its store and
 * catches up from the others).
 */
export class NatsCluster {
  readonly nodes: NatsNode[];
  private readonly binary: string;
  private readonly host: string;

  constructor(private readonly options: NatsClusterOptions) {
    if (options.clientPorts.length !== options.routePorts.length || options.clientPorts.length < 1) {
      throw new Error('one client port and one route port per server');
    }
    this.binary = options.binary ?? findNatsServer();
    this.host = options.host ?? '127.0.0.1';
    mkdirSync(options.dir, { recursive: true });
    const routes = options.routePorts.map((p) => `nats-route://${this.host}:${p}`);
    this.nodes = options.clientPorts.map((clientPort, i) => {
      const name = `n${i + 1}`;
      const node: NatsNode = {
        name,
        clientPort,
        routePort: options.routePorts[i]!,
        configFile: join(options.dir, `${name}.conf`),
        logFile: join(options.dir, `${name}.log`),
      };
      writeFileSync(
        node.configFile,
        [
          `server_name: ${name}`,
          `listen: ${this.host}:${clientPort}`,
          `jetstream { store_dir: ${JSON.stringify(join(options.dir, name))} }`,
          `cluster {`,
          `  name: ${options.clusterName ?? 'switchyard-local'}`,
          `  listen: ${this.host}:${node.routePort}`,
          `  routes: [${routes.join(', ')}]`,
          `}`,
          '',
        ].join('\n'),
      );
      return node;
    });
  }

  /** NATS_URL for the apps: every server, comma-separated. */
  get url(): string {
    return this.nodes.map((n) => `nats://${this.host}:${n.clientPort}`).join(',');
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no NATS server named ${name} (have ${this.nodes.map((n) => n.name).join(', ')})`);
    return node;
  }

  /** Starts every server that is not running and waits until each accepts connections. */
  async start(): Promise<this> {
    await Promise.all(this.nodes.filter((n) => !n.proc).map((n) => this.startNode(n.name)));
    return this;
  }

  async startNode(name: string): Promise<void> {
    const node = this.node(name);
    if (node.proc) return;
    const log = openSync(node.logFile, 'a');
    node.proc = spawn(this.binary, ['-c', node.configFile], { stdio: ['ignore', log, log] });
    node.proc.once('exit', () => (node.proc = undefined));
    await waitForPort(this.host, node.clientPort, true);
  }

  /** Stops one server: SIGKILL (a crash, the default) or SIGTERM (a clean shutdown). */
  async stopNode(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(name);
    const proc = node.proc;
    if (!proc) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
    await waitForPort(this.host, node.clientPort, false);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopNode(n.name, signal)));
  }
}

/** Resolves once a TCP port on `host` accepts (open) or refuses (closed) connections. */
export function waitForPort(host: string, port: number, open: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((done, fail) => {
    const probe = () => {
      const socket = createConnection({ host, port });
      const answer = (isOpen: boolean) => {
        socket.destroy();
        if (isOpen === open) return done();
        if (Date.now() > deadline) return fail(new Error(`port ${host}:${port} did not become ${open ? 'open' : 'closed'}`));
        setTimeout(probe, 50);
      };
      socket.once('connect', () => answer(true));
      socket.once('error', () => answer(false));
    };
    probe();
  });
}

function parseArgs(argv: string[]): { port: number; routePort: number; servers: number; dir: string; binary?: string } {
  const args = { port: 4301, routePort: 0, servers: 3, dir: resolve('.nats-cluster'), binary: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--port') args.port = Number(value);
    else if (flag === '--route-port') args.routePort = Number(value);
    else if (flag === '--servers') args.servers = Number(value);
    else if (flag === '--dir') args.dir = resolve(value);
    else if (flag === '--nats-server') args.binary = value;
    else throw new Error(`unknown option ${flag}`);
    i++;
  }
  if (!Number.isInteger(args.port) || args.port < 1 || !Number.isInteger(args.servers) || args.servers < 1) {
    throw new Error('--port and --servers must be positive integers');
  }
  args.routePort ||= args.port + 2000;
  return args;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(
      `nats-cluster: ${(err as Error).message}\n` +
        'usage: nats-cluster [--port 4301] [--route-port 6301] [--servers 3] [--dir .nats-cluster] [--nats-server <binary>]\n',
    );
    process.exit(64);
  }
  const range = (from: number) => Array.from({ length: args.servers }, (_, i) => from + i);
  const cluster = new NatsCluster({ clientPorts: range(args.port), routePorts: range(args.routePort), dir: args.dir, binary: args.binary });
  await cluster.start();
  process.stdout.write(
    `NATS cluster of ${args.servers} running (stores and logs in ${args.dir}); Ctrl-C stops it.\n` +
      `  NATS_URL=${cluster.url} STREAM_REPLICAS=${Math.min(3, args.servers)}\n`,
  );
  for (const node of cluster.nodes) {
    node.proc?.once('exit', (code, signal) => process.stdout.write(`${node.name} (port ${node.clientPort}) exited (${signal ?? `code ${code}`}); see ${node.logFile}\n`));
  }
  const stop = () => void cluster.stop().finally(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`nats-cluster: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
