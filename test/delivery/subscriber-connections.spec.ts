import { TestReceiver } from '../support/receiver';
import { sendShipment, useStack, waitForDeliveries } from './delivery-support';

/**
 * A subscriber's host never sees more connections from one fan-out process than the requests that process
 * may have open at once (DELIVERY_CONCURRENCY). Without a cap, a request that started as the one before it
 * on the same host ended found that connection not yet handed back and opened another: a backlog drain with
 * 256 places kept 512 connections open to its receiver, half of them idle, and every one of them costs the
 * subscriber a socket and, over HTTPS, a handshake.
 */
describe('connections to a subscriber host', () => {
  const receiver = new TestReceiver();
  const ctx = useStack(__filename, { DELIVERY_CONCURRENCY: '4', DELIVERY_MAX_IN_FLIGHT_PER_CLINIC: '4' }, [receiver]);

  it('stay within the places the process has, however long the backlog', async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Busy clinic');
    // Four subscribers on the one host, each with room for all four places.
    const subs = [];
    for (let i = 0; i < 4; i++) subs.push(await stack.createSubscriber(clinic.id, `${receiver.url}?s=${i}`, { max_in_flight: 4 }));
    // 60 events sent ten at a time: fan-out takes them from the stream and starts their attempts as places free.
    for (let i = 0; i < 60; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => sendShipment(stack, clinic.apiKey, `busy-${i + j}`)));
    for (const sub of subs) await waitForDeliveries(stack, sub.id, 'succeeded', 60, 30_000);
    // eslint-disable-next-line no-console
    console.log(`240 deliveries, 4 places: at most ${receiver.maxActive} requests and ${receiver.maxConnections} connections at once`);
    expect(receiver.requests).toHaveLength(240);
    expect(receiver.maxConnections).toBeLessThanOrEqual(4);
  });
});
