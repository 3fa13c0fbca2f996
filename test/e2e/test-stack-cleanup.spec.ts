import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@switchyard/messaging';
import { createDataSource } from '@switchyard/persistence';
import { freePort } from '../support/free-port';
import { TestStack } from '../support/stack';

/** The test stack itself: a start that fails after its migrations leaves no schema and no stream behind. */
describe('TestStack', () => {
  it('removes its schema and stream when an app fails to start', async () => {
    const tag = `cleanup_${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    try {
      // Dedupe cannot bind its gRPC port: the stack fails after migrations and stream set-up.
      await expect(TestStack.start(`/x/${tag}.spec.ts`, { DEDUPE_GRPC_PORT: String(port), DEDUPE_GRPC_URL: `127.0.0.1:${port}` }, ['dedupe'])).rejects.toThrow();
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
