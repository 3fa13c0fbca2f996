import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { DeliveryFlowRepository, RenewedSlot, SlotKey } from '@switchyard/persistence';
import { testDatabase } from '../../../test/support/database';
import { FlowControl } from './flow-control';

/** A real repository whose renewals wait for the test to let them through: their answer (`after`), or their statement (`before`: Postgres unreachable). */
class GatedRenewals extends DeliveryFlowRepository {
  gate?: Promise<void>;
  where: 'before' | 'after' = 'after';
  override async renew(holder: string, slots: SlotKey[], defaultMax: number, leaseMs: number): Promise<RenewedSlot[]> {
    if (this.where === 'before') await this.gate;
    const renewed = await super.renew(holder, slots, defaultMax, leaseMs);
    if (this.where === 'after') await this.gate;
    return renewed;
  }
}

/** Integration: FlowControl against real Postgres slots. */
describe('FlowControl', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let ds: DataSource;
  const clinicId = randomUUID();

  beforeAll(async () => {
    db = await testDatabase(__filename);
    ds = db.ds;
    await ds.query(`INSERT INTO clinics (id, name) VALUES ($1, 'c')`, [clinicId]);
  });
  afterAll(() => db?.drop());

  async function subscriber(maxInFlight: number): Promise<string> {
    const id = randomUUID();
    await ds.query(`INSERT INTO subscribers (id, clinic_id, url, secret, max_in_flight) VALUES ($1, $2, $4, 'whsec_x', $3)`, [id, clinicId, maxInFlight, `http://127.0.0.1:1/${id}`]);
    return id;
  }

  it('keeps a slot taken while a renewal was running (the renewal did not ask about it)', async () => {
    const repo = new GatedRenewals(ds);
    const errors: unknown[] = [];
    const flow = new FlowControl(repo, { holder: 'r1', leaseMs: 600, defaultMaxInFlight: 10, lingerMs: 60_000 }, (err) => errors.push(err));
    flow.start();
    const s = await subscriber(2);
    await flow.acquire(s, 1);
    const first = flow.take(s)!;
    let open!: () => void;
    repo.gate = new Promise((r) => (open = r));
    await new Promise((r) => setTimeout(r, 250)); // the renewal (every 200 ms) is now waiting at the gate
    await flow.acquire(s, 1); // the second slot arrives meanwhile
    const second = flow.take(s)!;
    expect(second).not.toBeNull();
    open();
    await new Promise((r) => setTimeout(r, 100));
    expect(first.lost.cancelled).toBe(false);
    expect(second.lost.cancelled).toBe(false);
    expect(flow.holds(s)).toBe(2);
    await flow.stop();
    expect(errors).toEqual([]);
  });

  it('aborts the request on a slot another holder took after its lease ran out', async () => {
    const repo = new GatedRenewals(ds);
    const flow = new FlowControl(repo, { holder: 'r2', leaseMs: 300, defaultMaxInFlight: 10, lingerMs: 60_000 }, () => undefined);
    flow.start();
    const s = await subscriber(1);
    await flow.acquire(s, 1);
    const ticket = flow.take(s)!;
    // Postgres unreachable for this holder (its renewals hang, no error); another replica takes the slot once the lease is over.
    let open!: () => void;
    repo.where = 'before';
    repo.gate = new Promise((r) => (open = r));
    await new Promise((r) => setTimeout(r, 400));
    await expect(new DeliveryFlowRepository(ds).acquire('r3', [{ subscriberId: s, want: 1 }], 10, 60_000)).resolves.toHaveLength(1);
    open();
    await new Promise((r) => setTimeout(r, 150));
    expect(ticket.lost.cancelled).toBe(true);
    expect(flow.holds(s)).toBe(0);
    await flow.stop();
  });

  it('aborts the request on a slot whose renewals hang by the time its lease runs out, before another holder can take it', async () => {
    const repo = new GatedRenewals(ds);
    const leaseMs = 600;
    const flow = new FlowControl(repo, { holder: 'r7', leaseMs, defaultMaxInFlight: 10, lingerMs: 60_000 }, () => undefined);
    flow.start();
    const s = await subscriber(1);
    const acquired = performance.now();
    await flow.acquire(s, 1);
    const ticket = flow.take(s)!;
    // Postgres unreachable for this holder from now on (its renewals hang, no error); another replica keeps asking for the slot.
    repo.where = 'before';
    repo.gate = new Promise(() => undefined);
    const other = new DeliveryFlowRepository(ds);
    let taken: SlotKey[] = [];
    while (taken.length === 0 && performance.now() - acquired < 3 * leaseMs) {
      taken = await other.acquire('r8', [{ subscriberId: s, want: 1 }], 10, 60_000);
      if (taken.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const cancelledWhenTaken = ticket.lost.cancelled;
    // eslint-disable-next-line no-console
    console.log(`slot taken by another holder ${Math.round(performance.now() - acquired)} ms after it was acquired (lease ${leaseMs} ms); request aborted by then: ${cancelledWhenTaken}`);
    expect(taken).toHaveLength(1);
    expect(cancelledWhenTaken).toBe(true);
    await flow.stop();
  });

  it('lets the request on a slot of a subscriber disabled meanwhile finish, takes no new one on it, then gives it back', async () => {
    const errors: unknown[] = [];
    // Renewals every 300 ms, each allowed 300 ms: a slow one on a busy machine is not a lost slot.
    const flow = new FlowControl(new DeliveryFlowRepository(ds), { holder: 'r5', leaseMs: 900, defaultMaxInFlight: 10, lingerMs: 60_000 }, (err) => errors.push(err));
    flow.start();
    const s = await subscriber(2);
    await flow.acquire(s, 2);
    const ticket = flow.take(s)!;
    await ds.query(`UPDATE subscribers SET enabled = false WHERE id = $1`, [s]);
    await new Promise((r) => setTimeout(r, 700)); // a renewal has seen it
    expect(ticket.lost.cancelled).toBe(false);
    expect(flow.take(s)).toBeNull();
    expect(flow.holds(s)).toBe(0);
    await new Promise((r) => setTimeout(r, 400)); // past the first lease: the busy slot's was renewed
    // The idle slot was given back at once; the busy one is still ours (renewed past its first lease), so
    // nobody takes it while the request on it runs, enabled again or not.
    await ds.query(`UPDATE subscribers SET enabled = true WHERE id = $1`, [s]);
    const other = new DeliveryFlowRepository(ds);
    expect(await other.acquire('r6', [{ subscriberId: s, want: 2 }], 10, 60_000)).toEqual([{ subscriberId: s, slot: 1 - ticket.slot }]);
    flow.give(ticket);
    await new Promise((r) => setTimeout(r, 50));
    expect(await other.acquire('r6', [{ subscriberId: s, want: 1 }], 10, 60_000)).toEqual([{ subscriberId: s, slot: ticket.slot }]);
    await flow.stop();
    expect(errors).toEqual([]);
  });

  it('hands a freed slot to the longest-waiting request, and null to one whose deadline passes', async () => {
    const flow = new FlowControl(new DeliveryFlowRepository(ds), { holder: 'r4', leaseMs: 60_000, defaultMaxInFlight: 10, lingerMs: 60_000 }, () => undefined);
    flow.start();
    const s = await subscriber(1);
    await flow.acquire(s, 1);
    const held = flow.take(s)!;
    const order: string[] = [];
    const a = flow.waitFor(s, performance.now() + 5_000).then((t) => (order.push('a'), t));
    const b = flow.waitFor(s, performance.now() + 5_000).then((t) => (order.push('b'), t));
    const late = flow.waitFor(s, performance.now() + 50);
    await expect(late).resolves.toBeNull();
    flow.give(held);
    const gotA = await a;
    expect(gotA?.slot).toBe(held.slot);
    flow.give(gotA!);
    expect((await b)?.slot).toBe(held.slot);
    expect(order).toEqual(['a', 'b']);
    await flow.stop();
  });
});
