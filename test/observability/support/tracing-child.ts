/**
 * A process that traces the way an app does: startTracing first (exporter from the OTEL_* environment),
 * one span, then stopTracing as an app's shutdown does, and exit. Run with:
 * node -r @swc-node/register test/observability/support/tracing-child.ts
 */
import { startTracing, stopTracing } from '@switchyard/observability/tracing';
import { trace } from '@opentelemetry/api';

async function main() {
  if (!startTracing('tracing-child')) throw new Error('tracing is not configured');
  trace.getTracer('tracing-child').startSpan('buffered span').end();
  await stopTracing();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);
