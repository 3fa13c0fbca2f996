import { TestReceiver, signedBy as verifies } from '../support/receiver';
import { sendShipment, useStack } from './delivery-support';

/** During a secret rotation's overlap every delivery carries a signature for the old and for the new secret. */
describe('signing secret rotation', () => {
  const receiver = new TestReceiver();
  const ctx = useStack(__filename, {}, [receiver]);

  it('signs with both secrets after rotate-secret, each signature verifying with one of them', async () => {
    const { stack } = ctx;
    const clinic = await stack.createClinic('Rotating clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url);
    await sendShipment(stack, clinic.apiKey, 'before-rotation');
    await receiver.waitFor(1);
    expect(String(receiver.requests[0].headers['webhook-signature']).split(' ')).toHaveLength(1);

    const rotated = await stack.admin('POST', `/api/external/webhook/${sub.id}/rotate-secret`, { overlap_seconds: 3600 });
    expect(rotated.status).toBe(201);
    const newSecret: string = rotated.body.data.secret;
    expect(newSecret).not.toBe(sub.secret);

    await sendShipment(stack, clinic.apiKey, 'after-rotation');
    await receiver.waitFor(2);
    const r = receiver.requests[1];
    const signatures = String(r.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    expect(verifies(sub.secret, r)).toBe(true);
    expect(verifies(newSecret, r)).toBe(true);
    // One signature per secret, not two copies of one.
    expect(signatures.map((s) => [verifies(sub.secret, r, s), verifies(newSecret, r, s)])).toEqual(
      expect.arrayContaining([
        [true, false],
        [false, true],
      ]),
    );
  });
});
