import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { subjectsFor } from '@switchyard/contracts';
import { KeyRing } from '@switchyard/secrets';
import { LogCapture } from '../support/log-capture';
import { TestReceiver } from '../support/receiver';
import { sendShipment, useStack, waitForDeliveries } from './delivery-support';

const RETIRED = randomBytes(32).toString('base64');
const CURRENT = randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A subscriber whose signing secret is encrypted under a key taken out of SECRETS_KEYS cannot be signed for.
 * Fan-out's lookup of the clinic's subscribers used to throw on it, so every event of the clinic failed its
 * lookup and its message came back every 2 s for ever, and the clinic's other subscribers got nothing. Now
 * the event is stored and goes to the readable subscribers; the unreadable one's delivery is stored
 * dead-lettered with the reason the scheduler's lease gives, logged once per subscriber and counted.
 */
describe('a subscriber whose secret cannot be read, in fan-out', () => {
  const logs = new LogCapture();
  const healthy = new TestReceiver();
  const unreadable = new TestReceiver();
  const ctx = useStack(__filename, { SECRETS_KEYS: `current:${CURRENT}`, LOG_LEVEL: 'error' }, [healthy, unreadable], { logs });

  const deadLetters = async () => {
    const text = await (await fetch(`${ctx.stack.opsUrls.get('fanout')}/metrics`)).text();
    const line = text.split('\n').find((l) => /^switchyard_dead_letters_total\{[^}]*event_type="shipment:created"/.test(l));
    return Number(line?.split(' ').pop() ?? 0);
  };

  it("stores the event, delivers it to the clinic's readable subscriber once, dead-letters the other's delivery and acks the message", async () => {
    const { stack } = ctx;
    const clinic = await stack.createClinic('Retired key');
    const ok = await stack.createSubscriber(clinic.id, healthy.url);
    const lost = await stack.createSubscriber(clinic.id, unreadable.url);
    // Its secret as the row holds it once the key it was written under ("retired") left SECRETS_KEYS.
    const sealed = new KeyRing([{ id: 'retired', key: RETIRED }], 'retired').encrypt(lost.secret, lost.id);
    await stack.db.query(`UPDATE subscribers SET secret = $2 WHERE id = $1`, [lost.id, sealed]);
    const before = await deadLetters();

    const first = await sendShipment(stack, clinic.apiKey, 'retired-key-1');
    await healthy.waitFor(1, 10_000);
    const [dead] = await waitForDeliveries(stack, lost.id, 'dead');
    expect(dead).toMatchObject({ event_id: first, attempt_count: 0 });
    expect(dead.last_error).toMatch(/^the subscriber's signing secret cannot be read: .*"retired".*SECRETS_KEYS/);
    await waitForDeliveries(stack, ok.id, 'succeeded');

    // A second event of the clinic: the same again, and the subscriber is not logged a second time.
    const second = await sendShipment(stack, clinic.apiKey, 'retired-key-2');
    await healthy.waitFor(2, 10_000);
    await waitForDeliveries(stack, lost.id, 'dead', 2);
    await waitForDeliveries(stack, ok.id, 'succeeded', 2);

    // Past the 2 s a nak'ed message waits: nothing came back, nothing went out twice or to the unreadable one.
    await sleep(2_500);
    expect(healthy.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([first, second].sort());
    expect(unreadable.requests).toEqual([]);
    const subjects = subjectsFor(stack.config.NATS_PREFIX);
    const info = await (await jetstreamManager(stack.nc)).consumers.info(subjects.inboundStream, subjects.fanoutConsumer);
    expect(info).toMatchObject({ num_ack_pending: 0, num_redelivered: 0, num_pending: 0 });
    expect(info.delivered.consumer_seq).toBe(info.delivered.stream_seq); // each message handed out once
    expect(info.ack_floor.stream_seq).toBe(info.delivered.stream_seq);

    expect(await deadLetters()).toBe(before + 2);
    const logged = logs.linesContaining([lost.id]).map((l) => JSON.parse(l));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'error', clinic_id: clinic.id, subscriber_id: lost.id });
    expect(logged[0].msg).toMatch(/signing secret cannot be read/);
    expect(logs.linesContaining([lost.secret, ok.secret, sealed])).toEqual([]);
    expect(logs.linesContaining(['fanning out an event failed'])).toEqual([]);
  });

  it('parks the delivery of such a subscriber while it is disabled, like any disabled subscriber\'s', async () => {
    const { stack } = ctx;
    const clinic = await stack.createClinic('Retired key, disabled');
    const lost = await stack.createSubscriber(clinic.id, `${unreadable.url}/disabled`);
    const sealed = new KeyRing([{ id: 'retired', key: RETIRED }], 'retired').encrypt(lost.secret, lost.id);
    await stack.db.query(`UPDATE subscribers SET secret = $2 WHERE id = $1`, [lost.id, sealed]);
    expect((await stack.admin('PATCH', `/api/external/webhook/${lost.id}`, { enabled: false })).status).toBe(200);

    const id = await sendShipment(stack, clinic.apiKey, 'retired-key-disabled');
    const [parked] = await waitForDeliveries(stack, lost.id, 'parked');
    expect(parked).toMatchObject({ event_id: id, last_error: null });
    expect(logs.linesContaining([lost.id])).toEqual([]);
  });
});
