import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { PrivateNats } from '../support/private-nats';
import { TestReceiver } from '../support/receiver';
import { TestStack } from '../support/stack';

describe('ingress when JetStream cannot be reached', () => {
  let nats: PrivateNats;
  let stack: TestStack;
  let receiver: TestReceiver;
  let clinic: { id: string; apiKey: string };

  beforeAll(async () => {
    nats = await new PrivateNats().start();
    stack = await TestStack.start(__filename, { NATS_URL: nats.url, PUBLISH_TIMEOUT: '500ms' });
    receiver = await new TestReceiver().start();
    clinic = await stack.createClinic();
    await stack.createSubscriber(clinic.id, receiver.url);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
    await nats?.destroy();
  });

  it('answers 503 with Retry-After, never 200, and the retry after recovery is accepted and delivered', async () => {
    await nats.stop();
    const body = clone(nimbusFixtures['shipment:created']);
    body.event_data.shipment_id = 'during-outage';
    const during = await stack.send(clinic.apiKey, body);
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(during.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });

    await nats.start();
    // Nimbus retries; the claim was released, so the retry is new, not a "duplicate".
    let retry = await stack.send(clinic.apiKey, body);
    for (let i = 0; retry.status !== 200 && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      retry = await stack.send(clinic.apiKey, body);
    }
    expect(retry.status).toBe(200);
    expect(retry.body.duplicate).toBeUndefined();
    await receiver.waitFor(1, 20_000);
    expect(JSON.parse(receiver.requests[0]!.body).subject).toBe('during-outage');
  });
});
