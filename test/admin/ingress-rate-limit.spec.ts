import { clone, nimbusFixtures } from '../fixtures/nimbus';
import { TestStack } from '../support/stack';

const RATE = 20; // events per second per clinic; the burst defaults to one second's worth
let seq = 0;
const event = (who: string) => {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = `flood-${who}-${++seq}`;
  return body;
};

describe('per-clinic ingress rate limit: one clinic flooding cannot starve another', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, { INGRESS_RATE_LIMIT: String(RATE) }, ['dedupe', 'ingress', 'admin']);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("answers A's flood with 429 + Retry-After while every one of B's requests gets 200", async () => {
    const a = await stack.createClinic('Flooding Clinic');
    const b = await stack.createClinic('Quiet Clinic');
    const started = Date.now();
    const flood = (async () => {
      const statuses: number[] = [];
      const limited: Array<{ retryAfter: string | null; body: unknown }> = [];
      for (let wave = 0; wave < 10; wave++) {
        const answers = await Promise.all(Array.from({ length: 30 }, () => stack.send(a.apiKey, event('a'))));
        for (const r of answers) {
          statuses.push(r.status);
          if (r.status === 429) limited.push({ retryAfter: r.headers.get('retry-after'), body: r.body });
        }
      }
      return { statuses, limited };
    })();
    const quiet = (async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 15; i++) {
        statuses.push((await stack.send(b.apiKey, event('b'))).status);
        await new Promise((r) => setTimeout(r, 40));
      }
      return statuses;
    })();
    const [{ statuses: aStatuses, limited }, bStatuses] = await Promise.all([flood, quiet]);
    const seconds = (Date.now() - started) / 1000;
    const count = (list: number[], s: number) => list.filter((x) => x === s).length;
    console.log(
      `rate limit ${RATE}/s: in ${seconds.toFixed(2)} s clinic A sent ${aStatuses.length} → ${count(aStatuses, 200)} × 200, ${count(aStatuses, 429)} × 429; ` +
        `clinic B sent ${bStatuses.length} → ${count(bStatuses, 200)} × 200`,
    );
    expect(bStatuses).toEqual(bStatuses.map(() => 200));
    expect(count(aStatuses, 200) + count(aStatuses, 429)).toBe(aStatuses.length);
    expect(count(aStatuses, 429)).toBeGreaterThan(0);
    expect(count(aStatuses, 200)).toBeLessThanOrEqual(RATE + Math.ceil(RATE * seconds) + 1);
    const metrics = await (await fetch(`${stack.ingressOpsUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_ingress_events_total\{[^}]*result="rejected",reason="rate_limited"[^}]*\} [1-9]/);
    expect(limited[0]).toEqual({ retryAfter: '1', body: { error: { code: 'rate_limited', message: expect.stringMatching(/retry after 1 s/) } } });
  });

  it('lets a limited clinic in again after Retry-After', async () => {
    const c = await stack.createClinic('Recovering Clinic');
    let limited: Awaited<ReturnType<TestStack['send']>> | undefined;
    for (let i = 0; i < 500 && !limited; i++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => stack.send(c.apiKey, event('c'))));
      limited = answers.find((r) => r.status === 429);
    }
    expect(limited?.status).toBe(429);
    await new Promise((r) => setTimeout(r, Number(limited!.headers.get('retry-after')) * 1000));
    expect((await stack.send(c.apiKey, event('c'))).status).toBe(200);
  });
});
