import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { TestReceiver } from '../support/receiver';
import { freePort } from '../support/free-port';
import { TestStack, eventually } from '../support/stack';
import { Ledger, report } from './support/ledger';
import { FULL, itFull, scaled, FULL_TIMEOUT } from './support/mode';
import { poolWhile, sendUntilAccepted, shipment } from './support/sender';

const ROOT = resolve(__dirname, '../..');

/** The real ingress as a child process (TypeScript through @swc-node/register, which resolves the tsconfig paths). */
class IngressProcess {
  private proc?: ChildProcess;
  constructor(
    private readonly env: Record<string, string>,
    readonly port: number,
    readonly opsPort: number,
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/ingress/src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, INGRESS_PORT: String(this.port), INGRESS_OPS_PORT: String(this.opsPort) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await eventually(() => fetch(`http://127.0.0.1:${this.opsPort}/readyz`).then((r) => r.status === 200), 30_000, 'the ingress process to be ready');
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

/**
 * Scenario 6: `kill -9` of the ingress process under load, then a restart. The sender retries on any
 * non-200 (including refused connections and in-progress claims); the ledger must reconcile to 0 lost.
 * (A fan-out crash mid-delivery is covered by the delivery suite in test/delivery.)
 */
describe('reliability: ingress killed with SIGKILL under load', () => {
  let stack: TestStack;
  let ingress: IngressProcess;
  const receivers: TestReceiver[] = [];

  beforeAll(async () => {
    if (!FULL) return;
    stack = await TestStack.start(__filename, { DEDUPE_LEASE: '3s' }, ['dedupe', 'fanout', 'admin']);
    const c = stack.config;
    ingress = new IngressProcess(
      {
        DATABASE_URL: c.DATABASE_URL,
        DATABASE_SCHEMA: c.DATABASE_SCHEMA,
        NATS_URL: c.NATS_URL,
        NATS_PREFIX: c.NATS_PREFIX,
        DEDUPE_GRPC_URL: c.DEDUPE_GRPC_URL,
        DEDUPE_LEASE: '3s',
        HTTP_HOST: '127.0.0.1',
        KEY_PEPPER: c.KEY_PEPPER,
        LOG_LEVEL: 'silent',
      },
      await freePort(),
      await freePort(),
    );
    await ingress.start();
  }, 60_000);

  afterAll(async () => {
    await ingress?.kill9();
    await stack?.stop();
    for (const r of receivers) await r.stop();
  });

  itFull('loses nothing that was answered 200', async () => {
    const ledger = new Ledger('ingress kill -9 + restart under load');
    const clinics: Array<{ id: string; apiKey: string }> = [];
    for (const name of ['Kill clinic A', 'Kill clinic B']) {
      const c = await stack.createClinic(name);
      const r = await new TestReceiver().start();
      receivers.push(r);
      ledger.track(r, c.id, (await stack.createSubscriber(c.id, r.url)).id);
      clinics.push(c);
    }
    const total = scaled(400, 1_000);
    let chaosOver = false;
    const chaos = (async () => {
      for (let k = 0; k < 2; k++) {
        await new Promise((r) => setTimeout(r, 1_500));
        await ingress.kill9();
        await new Promise((r) => setTimeout(r, 500));
        await ingress.start();
      }
      chaosOver = true;
    })();
    // At least `total` events, and new ones until both kills are over (a fast machine sends 400 in well under 1.5 s).
    const [sent] = await Promise.all([
      poolWhile(16, (next) => next < total || !chaosOver, async (i) => {
        await sendUntilAccepted(ledger, () => ingress.url, clinics[i % 2]!, shipment(`kill-${i}`), { retryDelayMs: 250, deadlineMs: 120_000 });
      }),
      chaos,
    ]);
    const row = await ledger.settle(stack.db, stack.config.DATABASE_SCHEMA, 60_000);
    report(row);
    process.stdout.write(`ingress kill: answers by status ${JSON.stringify(Object.fromEntries(ledger.statuses))}\n`);
    expect(row).toMatchObject({ accepted: sent, lost: 0, crossTenant: 0 });
  }, FULL_TIMEOUT);
});
