/**
 * Readiness names the dependency that is slow, and only that one. Fan-out's readiness asks Postgres
 * (`SELECT 1` on its pool) and NATS; when its pool is busy (every connection held by a long statement, a
 * lock wait behind a migration) the Postgres check waits past the readiness timeout. That must read as
 * `postgres` down, not as every dependency down: switchyard_dependency_up{dependency="nats"} 0 fires
 * SwitchyardNatsUnavailable and sends the on-call engineer to a NATS that is fine. Real Postgres (a pool of
 * one connection, held by pg_sleep) and real NATS.
 */
import { FastifyInstance } from 'fastify';
import { DataSource } from 'typeorm';
import { NatsLink } from '@switchyard/messaging';
import { Metrics, createLogger, opsServerUrl, startOpsServer } from '@switchyard/observability';
import { createDataSource, postgresAnswers } from '@switchyard/persistence';
import { TEST_DATABASE_URL } from '../support/database';
import { eventually } from '../support/eventually';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

function dependencyUp(text: string, dependency: string): string | undefined {
  return new RegExp(`^switchyard_dependency_up\\{[^}]*dependency="${dependency}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1];
}

describe('readiness: a slow dependency is reported down on its own', () => {
  let ds: DataSource;
  let nats: NatsLink;
  let ops: FastifyInstance;
  let url: string;
  let held: Promise<unknown> | undefined;

  beforeAll(async () => {
    ds = await createDataSource({ url: TEST_DATABASE_URL, schema: 'public', poolSize: 1, applicationName: 'readiness_per_dependency' }).initialize();
    nats = new NatsLink({ url: NATS_URL, name: 'readiness-per-dependency-spec', log: createLogger('fanout', 'silent') }).start();
    await nats.connection();
    ops = await startOpsServer(0, '127.0.0.1', new Metrics('fanout'), () => ({ postgres: postgresAnswers(ds), nats: nats.isReady() }));
    url = opsServerUrl(ops);
  });

  afterAll(async () => {
    await held;
    await ops?.close();
    await nats?.close();
    await ds?.destroy();
  });

  it('reports both up while both answer', async () => {
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { postgres: true, nats: true } });
  });

  it('reports postgres down and nats up while the pool is busy past the readiness timeout', async () => {
    // The pool's one connection is busy for 6 s: SELECT 1 waits for it, longer than the 2 s readiness timeout (twice).
    held = ds.query('SELECT pg_sleep(6)');
    const started = Date.now();
    const readyz = await fetch(`${url}/readyz`);
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ status: 'not_ready', checks: { postgres: false, nats: true } });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(dependencyUp(metrics, 'postgres')).toBe('0');
    expect(dependencyUp(metrics, 'nats')).toBe('1');
    // No made-up dependency appears in the alerts' label.
    expect(metrics).not.toMatch(/switchyard_dependency_up\{[^}]*dependency="readiness"/);
    await held;

    // Once the pool is free again, postgres is up again.
    await eventually(async () => dependencyUp(await (await fetch(`${url}/metrics`)).text(), 'postgres') === '1', 5_000);
  }, 15_000);
});
