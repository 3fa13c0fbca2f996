import type { Accepted } from './nimbus-sender';
import { SubscriberRecord } from './recording-receiver';
import { LedgerInput, TrackedSubscriber, rateExcess, reconcileScale } from './scale-ledger';

/** The scale ledger's checks fail on the faults they are there to catch (and pass on a clean run). */
describe('scale ledger', () => {
  const clinic = 'c1';
  const event = (eventId: string, entity: string, eventName = 'medication:updated'): Accepted => ({ eventId, clinicId: clinic, eventName, entity, at: 0 });
  const subscriber = (name: string, extra: Partial<TrackedSubscriber> = {}): TrackedSubscriber => ({
    name,
    clinicId: clinic,
    subscriberId: `${name}-id`,
    eventTypes: ['*'],
    ordered: false,
    maxInFlight: 2,
    record: new SubscriberRecord(name, {}),
    ...extra,
  });
  const arrive = (s: TrackedSubscriber, webhookId: string, at: number, status = 200) => {
    s.record.receive({ webhookId, entity: 'x', eventName: '', clinicId: s.clinicId, at });
    s.record.arrivals[s.record.arrivals.length - 1]!.status = status;
    s.record.done();
  };
  const input = (subscribers: TrackedSubscriber[], extra: Partial<LedgerInput> = {}): LedgerInput => ({
    accepted: new Map([
      ['e1', event('e1', 'x')],
      ['e2', event('e2', 'x')],
    ]),
    order: new Map([[`${clinic}/x`, ['e1', 'e2']]]),
    subscribers,
    deadLetters: [],
    crashes: [],
    deliveryTimeoutMs: 2_000,
    ...extra,
  });
  const failed = (i: LedgerInput) => reconcileScale(i).checks.filter((c) => !c.ok).map((c) => c.check.split(' ')[0]);

  it('passes a clean run', () => {
    const s = subscriber('ordered', { ordered: true });
    arrive(s, 'e1', 1_000);
    arrive(s, 'e2', 1_100);
    expect(failed(input([s]))).toEqual([]);
  });

  it('finds a lost delivery, a foreign request and an event nobody sent', () => {
    const s = subscriber('a');
    arrive(s, 'e1', 1_000);
    expect(failed(input([s]))).toEqual(['lost']);
    arrive(s, 'e2', 1_100);
    s.record.receive({ webhookId: 'f1', entity: 'x', eventName: '', clinicId: 'someone-else', at: 1_100 });
    s.record.done();
    s.record.receive({ webhookId: 'e9', entity: 'x', eventName: '', clinicId: clinic, at: 1_200 });
    s.record.done();
    expect(failed(input([s]))).toEqual(['cross-tenant', 'requests']);
  });

  it('allows a duplicate whose first copy was cut by a crash, and no other', () => {
    const s = subscriber('a');
    arrive(s, 'e1', 1_000);
    arrive(s, 'e1', 9_000);
    arrive(s, 'e2', 1_000);
    arrive(s, 'e2', 9_000);
    const result = reconcileScale(input([s], { crashes: [2_500] }));
    expect(result.duplicates.map((d) => d.cutBy)).toEqual([2_500, 2_500]);
    expect(failed(input([s], { crashes: [5_000] }))).toEqual(['duplicates']);
  });

  it('finds changes of an entity that arrived out of order at an ordered subscriber, by first arrival', () => {
    const s = subscriber('ordered', { ordered: true });
    arrive(s, 'e2', 1_000);
    arrive(s, 'e1', 1_100);
    expect(failed(input([s]))).toEqual(['ordered']);
    const unordered = subscriber('unordered');
    arrive(unordered, 'e2', 1_000);
    arrive(unordered, 'e1', 1_100);
    expect(failed(input([unordered]))).toEqual([]);
  });

  it('finds more requests under way than max_in_flight', () => {
    const s = subscriber('a', { maxInFlight: 1 });
    s.record.receive({ webhookId: 'e1', entity: 'x', eventName: '', clinicId: clinic, at: 1_000 });
    s.record.receive({ webhookId: 'e2', entity: 'x', eventName: '', clinicId: clinic, at: 1_000 });
    expect(failed(input([s]))).toEqual(['most']);
  });

  it('checks dead letters: exactly the failing subscriber’s events, each once', () => {
    const failing = subscriber('failing', { failsForever: true });
    const rows = [
      { event_id: 'e1', subscriber_id: 'failing-id' },
      { event_id: 'e2', subscriber_id: 'failing-id' },
    ];
    expect(failed(input([failing], { deadLetters: rows }))).toEqual([]);
    expect(failed(input([failing], { deadLetters: [rows[0]!] }))).toEqual(['lost', 'dead']);
    expect(failed(input([failing], { deadLetters: [...rows, rows[0]!] }))).toEqual(['dead']);
  });

  it('allows a token bucket’s rate plus its one-second burst, and no more', () => {
    const steady = Array.from({ length: 20 }, (_, i) => i * 250); // 4/s
    expect(rateExcess(steady, 4).over).toBe(0);
    const burstThenSteady = [0, 0, 0, 0, ...steady.map((t) => t + 250)];
    expect(rateExcess(burstThenSteady, 4).over).toBe(0);
    const threeReplicas = Array.from({ length: 30 }, (_, i) => Math.floor(i / 3) * 250); // 12/s
    expect(rateExcess(threeReplicas, 4).over).toBeGreaterThan(5);
  });

  it('allows for the stalls measured around a window, and only there', () => {
    // A scale run's window: 9 arrivals in 719 ms at 4/s, 8 allowed; a sender had stalled 600 ms right before.
    const window = [0, 42, 44, 307, 307, 307, 585, 608, 719].map((t) => t + 20_000);
    expect(rateExcess(window, 4)).toMatchObject({ over: 1, count: 9, allowed: 8 });
    const stallAt = (when: number, ms: number) => (from: number, to: number) => (when > from - 1_000 && when - 1_000 < to ? ms : 0);
    expect(rateExcess(window, 4, stallAt(19_800, 600))).toMatchObject({ over: 0 });
    // The same stall ten seconds earlier says nothing about this window.
    expect(rateExcess(window, 4, stallAt(10_000, 600)).over).toBe(1);
    // Three replicas with their own buckets are still caught with a second of stalls everywhere.
    const threeReplicas = Array.from({ length: 30 }, (_, i) => Math.floor(i / 3) * 250);
    expect(rateExcess(threeReplicas, 4, () => 1_000).over).toBeGreaterThan(5);
  });
});
