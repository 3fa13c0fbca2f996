/**
 * Imported first by the launcher: starts tracing for the app named on the command line before any
 * instrumented module (http, grpc, undici) is loaded.
 */
import { startTracing } from '@switchyard/observability/tracing';

const app = process.argv[2] ?? process.env.SWITCHYARD_APP;
if (app && ['ingress', 'dedupe', 'fanout', 'admin'].includes(app)) startTracing(app);
