import { MetricNames } from '@switchyard/observability';
import { TestStack } from '../support/stack';

/**
 * Admin records its HTTP requests and its dependency (Postgres), nothing else, and exports only those: it
 * exported every Switchyard metric, so each admin pod was a `switchyard_deliveries_in_flight 0` line on the
 * overview's "Deliveries in flight" panel (by instance) — pods that look like fan-outs delivering nothing —
 * and added zero series of dead letters, backlog and claims to every query that does not name the app.
 */
describe('admin exports only the metrics it records', () => {
  let stack: TestStack;
  let text: string;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['admin']);
    await stack.createClinic();
    text = await (await fetch(`${stack.adminUrl}/metrics`)).text();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const families = () => new Set([...text.matchAll(/^# TYPE (switchyard_\w+) /gm)].map((m) => m[1]!));

  it('exports its request metrics and its dependency', () => {
    expect(text).toMatch(/^switchyard_http_requests_total\{[^}]*route="\/admin\/clinics"[^}]*app="admin"[^}]*\} 1$/m);
    expect(text).toMatch(/^switchyard_dependency_up\{[^}]*dependency="postgres"[^}]*\} 1$/m);
  });

  it('exports none of the ingress, dedupe and fan-out metrics', () => {
    const own = [MetricNames.httpRequests, MetricNames.httpDuration, MetricNames.dependencyUp];
    expect([...families()].filter((f) => !own.includes(f as (typeof own)[number])).sort()).toEqual([]);
  });
});
