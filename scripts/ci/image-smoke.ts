/**
 * Runs a built Switchyard image the way a cluster would, against this machine's Postgres and NATS:
 * `setup`, then ingress, dedupe, fanout and admin, each its own container (host network, ports of their
 * own, a Postgres schema and NATS prefix of their own so nothing collides with the tests), every one as
 * uid 1000 with a read-only root filesystem and only /tmp writable. Then: /readyz of each, a clinic and a
 * subscriber through the admin API, one Nimbus event into ingress, and its signed delivery at a receiver.
 *
 *   node -r @swc-node/register scripts/ci/image-smoke.ts <image>      (scripts/ci/image-check.sh runs it)
 *
 * Exits 0 when all of it held; otherwise prints what failed and the containers' logs, and exits 1.
 * Everything it made (containers, schema, streams) is removed either way, unless IMAGE_CHECK_KEEP=1.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { subjectsFor } from '@switchyard/contracts';
import { verifySignature } from '@switchyard/delivery';
import { connectNats, deleteStreams } from '@switchyard/messaging';
import { nimbusFixtures } from '../../test/fixtures/nimbus';
import { entrypointFor, nodeFlagsFor } from '../node-flags';
import { freePort } from '../../test/support/free-port';
import { TestReceiver } from '../../test/support/receiver';

const run = promisify(execFile);
const image = process.argv[2];
const keep = process.env.IMAGE_CHECK_KEEP === '1';
const id = `image_check_${randomBytes(3).toString('hex')}`;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const adminToken = `image-check-admin-${randomBytes(12).toString('hex')}`;

type App = 'ingress' | 'dedupe' | 'fanout' | 'admin';
const APPS: App[] = ['dedupe', 'ingress', 'fanout', 'admin'];
const started: string[] = [];

function say(message: string) {
  process.stdout.write(`[image-smoke ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** podman with the OCI runtime image-check.sh chose (runc where crun cannot run). */
const runtime = process.env.IMAGE_CHECK_RUNTIME ? ['--runtime', process.env.IMAGE_CHECK_RUNTIME] : [];

async function podman(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('podman', [...runtime, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** The flags every container gets: what the Helm chart's securityContext asks of a pod. */
const hardened = [
  '--network', 'host',
  '--read-only',
  '--read-only-tmpfs=false',
  '--tmpfs', '/tmp:rw,size=64m,mode=1777',
  '--user', '1000:1000',
  '--cap-drop', 'ALL',
  '--security-opt', 'no-new-privileges',
  // podman sets RLIMIT_NOFILE/NPROC from its own defaults, which needs CAP_SYS_RESOURCE that this
  // sandbox lacks; these values are within what it already has.
  '--ulimit', 'nofile=1024:1024',
  '--ulimit', 'nproc=1024:1024',
];

async function eventually<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

async function main() {
  if (!image) throw new Error('usage: image-smoke.ts <image>');
  const ports = {
    ingress: await freePort(),
    ingressOps: await freePort(),
    admin: await freePort(),
    dedupeGrpc: await freePort(),
    dedupeHttp: await freePort(),
    fanoutHttp: await freePort(),
  };
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: id,
    NATS_URL: natsUrl,
    NATS_PREFIX: id,
    HTTP_HOST: '127.0.0.1',
    INGRESS_PORT: String(ports.ingress),
    INGRESS_OPS_PORT: String(ports.ingressOps),
    ADMIN_PORT: String(ports.admin),
    DEDUPE_GRPC_PORT: String(ports.dedupeGrpc),
    DEDUPE_GRPC_URL: `127.0.0.1:${ports.dedupeGrpc}`,
    DEDUPE_HTTP_PORT: String(ports.dedupeHttp),
    FANOUT_HTTP_PORT: String(ports.fanoutHttp),
    ADMIN_TOKEN: adminToken,
    KEY_PEPPER: `image-check-pepper-${randomBytes(12).toString('hex')}`,
    // Subscriber secrets are encrypted at rest; production requires the key ring.
    SECRETS_KEYS: `ci:${randomBytes(32).toString('base64')}`,
    ALLOW_INSECURE_SUBSCRIBER_URLS: 'true', // the receiver is on loopback, over http
    LOG_LEVEL: 'info',
  };
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

  say(`image ${image}; schema and NATS prefix ${id}`);
  const user = await podman(['image', 'inspect', image, '--format', '{{.Config.User}}']);
  if (user !== '1000:1000') throw new Error(`the image's USER is "${user}", not 1000:1000`);

  const setup = await run('podman', [...runtime, 'run', '--rm', ...hardened, ...envArgs, image, 'setup'], { timeout: 120_000 }).catch((err) => {
    throw new Error(`setup failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  });
  say(`setup: ${setup.stdout.trim().split('\n').map((l) => JSON.parse(l).msg).join('; ')}`);

  for (const app of APPS) {
    const name = `${id}_${app}`;
    // As the chart and compose run it: an app with Node flags of its own (fan-out) gets them as its entrypoint.
    const own = entrypointFor(app);
    const entrypoint = own ? ['--entrypoint', JSON.stringify(own)] : [];
    await podman(['run', '-d', '--name', name, ...hardened, ...entrypoint, ...envArgs, '-e', `OTEL_SERVICE_NAME=switchyard-${app}`, image, app]);
    started.push(name);
  }
  const readyz: Record<App, string> = {
    ingress: `http://127.0.0.1:${ports.ingressOps}/readyz`,
    admin: `http://127.0.0.1:${ports.admin}/readyz`,
    dedupe: `http://127.0.0.1:${ports.dedupeHttp}/readyz`,
    fanout: `http://127.0.0.1:${ports.fanoutHttp}/readyz`,
  };
  const t0 = Date.now();
  for (const app of APPS) {
    const ready = await eventually(`${app} /readyz`, async () => {
      const r = await json(readyz[app]);
      return r.status === 200 && r.body;
    }, 90_000);
    say(`${app} ready: ${JSON.stringify(ready)}`);
  }
  say(`all four apps ready ${((Date.now() - t0) / 1000).toFixed(1)} s after start`);
  for (const app of APPS) {
    const argv = (await podman(['exec', `${id}_${app}`, 'cat', '/proc/1/cmdline'])).split('\0').filter(Boolean);
    const flags = nodeFlagsFor(app);
    if (argv.slice(1, 1 + flags.length).join(' ') !== flags.join(' ')) throw new Error(`${app} runs as "${argv.join(' ')}", without its Node flags ${flags.join(' ')}`);
  }
  say(`each app runs with its Node flags (${APPS.map((a) => `${a} ${nodeFlagsFor(a).join(' ')}`).join(', ')})`);

  const publicMetrics = await fetch(`http://127.0.0.1:${ports.ingress}/metrics`);
  if (publicMetrics.status !== 404) throw new Error(`ingress's public port answers /metrics with ${publicMetrics.status}, not 404`);
  // The console's built assets are in the image (npm run build bundles them in the build stage).
  for (const path of ['/console', '/console/app.js']) {
    const res = await fetch(`http://127.0.0.1:${ports.admin}${path}`);
    if (res.status !== 200 || (await res.text()).length < 100) throw new Error(`admin ${path} answers ${res.status} without its asset`);
  }
  say('ingress answers 404 for /metrics on its public port; admin serves the console and its script');

  // Every container runs as uid 1000 and cannot write outside /tmp.
  for (const name of started) {
    const probe = await podman([
      'exec', name, 'node', '-e',
      `const fs = require('fs'); let root = 'writable';
       try { fs.writeFileSync('/app/probe', 'x'); } catch (e) { root = e.code; }
       fs.writeFileSync('/tmp/probe', 'x');
       process.stdout.write(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), root }));`,
    ]);
    const seen = JSON.parse(probe) as { uid: number; gid: number; root: string };
    if (seen.uid !== 1000 || seen.gid !== 1000 || seen.root !== 'EROFS') throw new Error(`${name}: ${probe} (want uid 1000, gid 1000, root EROFS)`);
    const readOnly = await podman(['inspect', name, '--format', '{{.HostConfig.ReadonlyRootfs}}']);
    if (readOnly !== 'true') throw new Error(`${name}: ReadonlyRootfs is ${readOnly}`);
  }
  say('every container: uid 1000, gid 1000, root filesystem read-only (EROFS), /tmp writable');

  // One event in, delivered out.
  const receiver = await new TestReceiver().start();
  try {
    const admin = `http://127.0.0.1:${ports.admin}`;
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const clinic = await json(`${admin}/admin/clinics`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Image check clinic' }) });
    if (clinic.status !== 201) throw new Error(`create clinic: ${clinic.status} ${JSON.stringify(clinic.body)}`);
    const hook = await json(`${admin}/api/external/webhook`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ clinic_id: clinic.body.id, webhook_url: receiver.url }),
    });
    if (hook.status !== 201) throw new Error(`register subscriber: ${hook.status} ${JSON.stringify(hook.body)}`);
    const sent = await json(`http://127.0.0.1:${ports.ingress}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'x-api-key': clinic.body.api_key, 'content-type': 'application/json' },
      body: JSON.stringify(nimbusFixtures['shipment:created']),
    });
    if (sent.status !== 200 || !sent.body.event_id) throw new Error(`ingress: ${sent.status} ${JSON.stringify(sent.body)}`);
    say(`ingress accepted event ${sent.body.event_id}`);
    await receiver.waitFor(1, 30_000);
    const got = receiver.requests[0]!;
    const headers = { id: String(got.headers['webhook-id']), timestamp: String(got.headers['webhook-timestamp']), signature: String(got.headers['webhook-signature']) };
    const event = JSON.parse(got.body);
    const problems = [
      headers.id !== sent.body.event_id && `webhook-id ${headers.id} is not the event id`,
      !verifySignature(hook.body.data.secret, headers, got.body) && 'the signature does not verify with the subscriber secret',
      event.type !== 'com.nimbus-os.shipment.created' && `type ${event.type}`,
      event.data?.shipment_id !== nimbusFixtures['shipment:created'].event_data.shipment_id && 'data is not the event_data sent',
    ].filter(Boolean);
    if (problems.length) throw new Error(`delivery: ${problems.join('; ')}`);
    say(`delivered to the receiver: ${event.type}, webhook-id ${headers.id}, signature verified`);
  } finally {
    await receiver.stop();
  }
}

async function cleanUp() {
  if (keep) {
    say(`IMAGE_CHECK_KEEP=1: leaving ${started.join(', ')} running (schema ${id})`);
    return;
  }
  if (started.length) await podman(['rm', '-f', '-t', '5', ...started]).catch((e) => say(`podman rm: ${(e as Error).message}`));
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect().then(
    () => pg.query(`DROP SCHEMA IF EXISTS "${id}" CASCADE`).finally(() => pg.end()),
    (e) => say(`cannot drop schema ${id}: ${(e as Error).message}`),
  );
  const nc = await connectNats(natsUrl, 'image-check').catch(() => undefined);
  if (nc) {
    await deleteStreams(nc, subjectsFor(id)).catch(() => undefined);
    await nc.close();
  }
}

main().then(
  async () => {
    await cleanUp();
    process.exit(0);
  },
  async (err) => {
    process.stderr.write(`[image-smoke] FAILED: ${(err as Error).message}\n`);
    for (const name of started) {
      const logs = await run('podman', [...runtime, 'logs', '--tail', '40', name]).then((r) => `${r.stdout}${r.stderr}`, (e) => String(e));
      process.stderr.write(`---- podman logs ${name} (last 40 lines)\n${logs}\n`);
    }
    await cleanUp();
    process.exit(1);
  },
);
