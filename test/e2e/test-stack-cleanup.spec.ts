import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@switchyard/messaging';
import { createDataSource } from '@switchyard/persistence';
import { freePort } from '../support/free-port';
import { TestStack } from '../support/stack';

/** The test stack itself: a start that fails after its migrations leaves no schema and no stream behind. */
describe('TestStack', () => {
  it.each([
    ['dedupe', (port: number) => ({ DEDUPE_GRPC_PORT: String(port), DEDUPE_GRPC_URL: `127.0.0.1:${port}` })],
    ['ingress', (port: number) => ({ INGRESS_OPS_PORT: String(port) })],
    ['fanout', (port: number) => ({ FANOUT_HTTP_PORT: String(port) })],
    ['admin', (port: number) => ({ ADMIN_PORT: String(port) })],
  ] as const)('removes its schema and stream when %s cannot take its port', async (app, env) => {
    const tag = `cleanup_${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    try {
      // The app fails to start after the stack's migrations and stream set-up (and closes what it opened).
      await expect(TestStack.start(`/x/${tag}.spec.ts`, env(port), [app])).rejects.toThrow();
    } finally {
      taken.close();
    }
    const db = await createDataSource({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'public', poolSize: 1, applicationName: 'test' }).initialize();
    const nc = await connectNats('nats://127.0.0.1:4222', 'test');
    try {
      const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [`t_${tag}%`]);
      expect(schemas).toEqual([]);
      const streams = await (await jetstreamManager(nc)).streams.names().next();
      expect(streams.filter((s: string) => s.toLowerCase().includes(tag))).toEqual([]);
    } finally {
      await db.destroy();
      await nc.close();
    }
  });
});
