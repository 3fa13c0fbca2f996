import { ProxyTracerProvider, trace } from '@opentelemetry/api';
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

/** The provider the global one hands over to while none is registered (every span a no-op). */
const NO_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered (the SDK, or a test's). Without one every span is a no-op that
 * still costs its attributes, a context and a closure: code on the per-delivery path asks this first and,
 * when it is false, skips making spans and carrying contexts (the stored `traceparent` still travels on).
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_TRACER_PROVIDER;
}

/** Exports the spans still buffered and stops the SDK (each app's shutdown calls it through ObservabilityModule). */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}
