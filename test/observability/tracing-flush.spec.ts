import { spawn } from 'node:child_process';
import { TestReceiver } from '../support/receiver';

describe('tracing at shutdown (a real OTLP/HTTP endpoint on loopback)', () => {
  let collector: TestReceiver;

  beforeAll(async () => {
    collector = await new TestReceiver().start();
  });
  afterAll(() => collector?.stop());

  it('exports the spans still buffered when stopTracing runs (each app calls it as it shuts down)', async () => {
    // A process of its own: the OTLP exporter loads its transport with a dynamic import, which jest's VM
    // cannot run. It exits right after stopTracing, long before the batch processor's own 5 s delay, so the
    // span arrives only if stopTracing exported it.
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'test/observability/support/tracing-child.ts'], {
      env: {
        ...process.env,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${new URL(collector.url).origin}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(collector.requests.map((r) => r.path)).toEqual(['/v1/traces']);
    expect(collector.requests[0]!.body).toContain('buffered span');
  });
});
