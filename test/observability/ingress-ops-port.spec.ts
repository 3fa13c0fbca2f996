/**
 * Nothing internal on the public port: ingress's webhook port (the one that faces Nimbus and the internet)
 * serves only `POST /webhooks/nimbus`; /healthz, /readyz and /metrics (which may carry clinic ids) are on
 * INGRESS_OPS_PORT, like dedupe's and fan-out's ops ports.
 */
import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestStack } from '../support/stack';

describe('ingress: ops routes on INGRESS_OPS_PORT, not on the public port', () => {
  let stack: TestStack;
  let apiKey: string;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { METRICS_CLINIC_LABEL: 'true' }, ['dedupe', 'ingress', 'admin']);
    apiKey = (await stack.createClinic()).apiKey;
    await expect(stack.send(apiKey, clone(nimbusFixtures['shipment:created']))).resolves.toMatchObject({ status: 200 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('listens on two different ports', () => {
    expect(new URL(stack.ingressOpsUrl).port).not.toBe(new URL(stack.ingressUrl).port);
  });

  it.each(['/metrics', '/healthz', '/readyz'])('answers %s on the public port with a 404 and no metrics text', async (path) => {
    const res = await fetch(`${stack.ingressUrl}${path}`);
    const body = await res.text();
    expect(res.status).toBe(404);
    expect(body).not.toContain('switchyard_');
    expect(body).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/); // no clinic id
  });

  it('serves /healthz, /readyz and /metrics on the ops port', async () => {
    await expect(fetch(`${stack.ingressOpsUrl}/healthz`).then((r) => r.status)).resolves.toBe(200);
    const ready = await fetch(`${stack.ingressOpsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { nats: true, dedupe: true } });
    const metrics = await (await fetch(`${stack.ingressOpsUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_ingress_events_total\{[^}]*result="accepted"[^}]*clinic_id="[0-9a-f-]{36}"/);
  });

  it('still measures the public routes: the webhook requests and the refused probes appear on the ops port', async () => {
    const metrics = await (await fetch(`${stack.ingressOpsUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_http_requests_total\{[^}]*route="\/webhooks\/nimbus"[^}]*method="POST"[^}]*status="200"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/switchyard_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} [1-9]/);
  });

  it('does not serve the webhook route on the ops port', async () => {
    const res = await fetch(`${stack.ingressOpsUrl}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify(clone(nimbusFixtures['shipment:created'])),
    });
    expect(res.status).toBe(404);
  });
});
