import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { testDatabase } from '../../../../test/support/database';
import { DeliveryFlowRepository, RenewedSlot } from './delivery-flow.repository';

/** Integration: real Postgres. Two "replicas" are two holders on the same tables. */
describe('DeliveryFlowRepository: in-flight slots and rate tokens shared by replicas', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  let repo: DeliveryFlowRepository;
  const clinicId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    repo = new DeliveryFlowRepository(ds);
    await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
  });
  afterAll(() => db?.drop());

  async function subscriber(maxInFlight: number | null): Promise<string> {
    const id = randomUUID();
    await ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, max_in_flight) VALUES ($1, $2, $4, 'whsec_x', $3)`, [id, clinicId, maxInFlight, `http://127.0.0.1:1/${id}`]);
    return id;
  }

  it('never grants more slots than max_in_flight, however many holders ask at once', async () => {
    const s = await subscriber(3);
    const grants = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((holder) => repo.acquire(holder, [{ subscriberId: s, want: 3 }], 10, 60_000)));
    expect(grants.flat()).toHaveLength(3);
    expect(new Set(grants.flat().map((g) => g.slot))).toEqual(new Set([0, 1, 2]));
    // The default limit applies to a subscriber without its own.
    const d = await subscriber(null);
    expect(await repo.acquire('r1', [{ subscriberId: d, want: 50 }], 4, 60_000)).toHaveLength(4);
  });

  it('hands a slot to another holder only once it is given back or its lease has run out', async () => {
    const s = await subscriber(1);
    const [mine] = await repo.acquire('r1', [{ subscriberId: s, want: 1 }], 10, 300);
    expect(mine).toBeDefined();
    expect(await repo.acquire('r2', [{ subscriberId: s, want: 1 }], 10, 300)).toEqual([]);
    expect(await repo.renew('r1', [mine!], 10, 300)).toEqual([{ ...mine, retired: false }]);
    await new Promise((r) => setTimeout(r, 400));
    // r1 stopped renewing (crashed): r2 may take it, and r1's late renewal learns it is lost.
    expect(await repo.acquire('r2', [{ subscriberId: s, want: 1 }], 10, 60_000)).toEqual([mine]);
    expect(await repo.renew('r1', [mine!], 10, 60_000)).toEqual([]);
    await repo.release('r2', [mine!]);
    expect(await repo.acquire('r1', [{ subscriberId: s, want: 1 }], 10, 60_000)).toEqual([mine]);
  });

  it('retires slots above a lowered max_in_flight and every slot of a disabled subscriber, keeping them from others until given back', async () => {
    const s = await subscriber(3);
    const slots = await repo.acquire('r1', [{ subscriberId: s, want: 3 }], 10, 60_000);
    await ds.query(`UPDATE subscribers SET max_in_flight = 1 WHERE id = $1`, [s]);
    const bySlot = (rows: RenewedSlot[]) => [...rows].sort((x, y) => x.slot - y.slot); // RETURNING promises no order
    expect(bySlot(await repo.renew('r1', slots, 10, 60_000))).toEqual([
      { subscriberId: s, slot: 0, retired: false },
      { subscriberId: s, slot: 1, retired: true },
      { subscriberId: s, slot: 2, retired: true },
    ]);
    await ds.query(`UPDATE subscribers SET enabled = false WHERE id = $1`, [s]);
    expect((await repo.renew('r1', slots, 10, 60_000)).map((r) => r.retired)).toEqual([true, true, true]);
    expect(await repo.acquire('r2', [{ subscriberId: s, want: 1 }], 10, 60_000)).toEqual([]);
    // Enabled again while r1's requests on its retired slots are still under way: those slots stay r1's.
    await ds.query(`UPDATE subscribers SET enabled = true, max_in_flight = 3 WHERE id = $1`, [s]);
    expect(await repo.acquire('r2', [{ subscriberId: s, want: 3 }], 10, 60_000)).toEqual([]);
    await repo.release('r1', [slots[1]!]);
    expect(await repo.acquire('r2', [{ subscriberId: s, want: 3 }], 10, 60_000)).toEqual([{ subscriberId: s, slot: 1 }]);
  });

  it('grants one second of tokens at once, then tokens at the rate, across holders', async () => {
    const s = await subscriber(null);
    // rate 5/s: a burst of 5, shared by whoever asks.
    const first = await Promise.all([repo.takeTokens([{ subscriberId: s, want: 4, rate: 5 }]), repo.takeTokens([{ subscriberId: s, want: 4, rate: 5 }])]);
    const granted = first.map((m) => m.get(s)!.granted);
    expect(granted.reduce((a, b) => a + b)).toBe(5);
    const empty = (await repo.takeTokens([{ subscriberId: s, want: 1, rate: 5 }])).get(s)!;
    expect(empty.granted).toBe(0);
    expect(empty.nextInMs).toBeGreaterThan(100);
    expect(empty.nextInMs).toBeLessThanOrEqual(200);
    await new Promise((r) => setTimeout(r, empty.nextInMs + 20));
    expect((await repo.takeTokens([{ subscriberId: s, want: 3, rate: 5 }])).get(s)!.granted).toBe(1);
  });
});
