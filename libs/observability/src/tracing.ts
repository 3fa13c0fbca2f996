import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

let sdk: NodeSDK | undefined;

/**
 * What is traced automatically: incoming and outgoing HTTP (not the ops routes), gRPC client and server
 * (context in the call metadata; not the long-lived ClaimStream, whose batches are spans made by hand),
 * and undici (outbound deliveries; it adds the `traceparent` header). The JetStream publish and consume
 * spans are made by hand in libs/messaging and the fan-out consumer, which carry the context in the NATS
 * headers.
 */
export function switchyardInstrumentations() {
  return [
    new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => /^\/(metrics|healthz|readyz)/.test(req.url ?? '') }),
    // The claim stream lives as long as the connection; each batch on it gets its own spans (libs/dedupe).
    new GrpcInstrumentation({ ignoreGrpcMethods: [/^claimstream$/i] }),
    new UndiciInstrumentation(),
  ];
}

/**
 * Starts OpenTelemetry tracing before anything else is imported (call it first in `main.ts`). It is
 * configured by the standard OTEL_* variables and off unless an exporter is configured
 * (OTEL_TRACES_EXPORTER or an OTLP endpoint), so that a plain `npm start` exports nothing.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (sdk) return true;
  const configured =
    (env.OTEL_TRACES_EXPORTER && env.OTEL_TRACES_EXPORTER !== 'none') ||
    env.OTEL_EXPORTER_OTLP_ENDPOINT ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!configured || env.OTEL_SDK_DISABLED === 'true') return false;
  env.OTEL_SERVICE_NAME ??= `switchyard-${serviceName}`;
  env.OTEL_TRACES_EXPORTER ??= 'otlp';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  sdk = new NodeSDK({ instrumentations: switchyardInstrumentations() });
  sdk.start();
  return true;
}

/** Exports the spans still buffered and stops the SDK (each app's shutdown calls it through ObservabilityModule). */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}
