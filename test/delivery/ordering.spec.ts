import { TestReceiver } from '../support/receiver';
import { sendStatusChange, useStack, waitForDeliveries } from './delivery-support';

/** An ordered subscriber gets each entity's events in the order received; one entity in backoff waits alone. */
describe('ordered delivery per entity', () => {
  const receiver = new TestReceiver();
  // Long enough for y's three events to be sent and delivered while x waits: on a loaded CI machine the six
  // sequential sends have taken ~2 s (with a 1.5 s backoff, y's last delivery came 19 ms after x's retry).
  const BACKOFF_S = 4;
  const ctx = useStack(__filename, { RETRY_SCHEDULE: `${BACKOFF_S}s,${BACKOFF_S}s`, RETRY_JITTER: '0' }, [receiver]);

  it("holds an entity's later events behind its failing one, and lets other entities pass", async () => {
    const stack = ctx.stack;
    const clinic = await stack.createClinic('Ordered clinic');
    const sub = await stack.createSubscriber(clinic.id, receiver.url, { ordered: true });
    let failedOnce = false;
    receiver.respond = (req) => {
      const ce = JSON.parse(req.body);
      if (ce.subject === 'x' && ce.data.status === 'validated' && !failedOnce) {
        failedOnce = true;
        return { status: 503 };
      }
      return { status: 200 };
    };
    await sendStatusChange(stack, clinic.apiKey, 'x', 'validated');
    await receiver.waitFor(1);
    const steps = ['submitted', 'filled', 'shipped'];
    for (const status of steps) await sendStatusChange(stack, clinic.apiKey, 'x', status);
    for (const status of steps) await sendStatusChange(stack, clinic.apiKey, 'y', status);

    await waitForDeliveries(stack, sub.id, 'succeeded', 7, 15_000);
    const seen = receiver.requests.map((r) => {
      const ce = JSON.parse(r.body);
      return { entity: ce.subject as string, status: ce.data.status as string, at: r.at };
    });
    // eslint-disable-next-line no-console
    console.log(seen.map((s) => `${s.entity}:${s.status}@${s.at - seen[0].at}`).join(' '));
    const x = seen.filter((s) => s.entity === 'x');
    const y = seen.filter((s) => s.entity === 'y');
    expect(x.map((s) => s.status)).toEqual(['validated', 'validated', ...steps]);
    expect(y.map((s) => s.status)).toEqual(steps);
    // y went through while x waited out its backoff.
    expect(y[y.length - 1].at).toBeLessThan(x[1].at);
  });
});
