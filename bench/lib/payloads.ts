import { randomUUID } from 'node:crypto';
import medicationUpdated from '../../libs/contracts/src/events/examples/medication-updated.json';
import shipmentCancelled from '../../libs/contracts/src/events/examples/shipment-cancelled.json';
import shipmentCreated from '../../libs/contracts/src/events/examples/shipment-created.json';

export interface BenchRequest {
  key: string;
  body: string;
}

/** Share of each Nimbus event in the mix (status changes dominate, as in a pharmacy's day). */
const MIX: Array<[number, () => string]> = [
  [0.3, () => JSON.stringify({ ...shipmentCreated, event_data: { ...shipmentCreated.event_data, shipment_id: randomUUID() } })],
  [
    0.1,
    () =>
      JSON.stringify({
        ...shipmentCancelled,
        event_data: { ...shipmentCancelled.event_data, shipment_id: randomUUID(), cancelled_at: new Date().toISOString() },
      }),
  ],
  [
    0.6,
    () =>
      JSON.stringify({
        ...medicationUpdated,
        event_data: { ...medicationUpdated.event_data, medication_order_id: randomUUID(), updated_at: new Date().toISOString() },
      }),
  ],
];

/**
 * Distinct events across the clinics' keys, with `duplicateShare` of exact resends (same key, same body)
 * of a recent request — what Nimbus does when an answer was lost.
 */
export class RequestMix {
  private readonly recent: BenchRequest[] = [];
  private n = 0;
  /** How many exact resends were handed out (each is answered `duplicate: true`, nothing published). */
  duplicatesSent = 0;

  constructor(
    private readonly keys: string[],
    private readonly duplicateShare = 0.01,
  ) {}

  next(): BenchRequest {
    this.n++;
    if (this.recent.length > 50 && Math.random() < this.duplicateShare) {
      this.duplicatesSent++;
      return this.recent[Math.floor(Math.random() * this.recent.length)]!;
    }
    let r = Math.random();
    let make = MIX[MIX.length - 1]![1];
    for (const [share, fn] of MIX) {
      if (r < share) {
        make = fn;
        break;
      }
      r -= share;
    }
    const req = { key: this.keys[Math.floor(Math.random() * this.keys.length)]!, body: make() };
    if (this.recent.length < 1000) this.recent.push(req);
    else this.recent[this.n % 1000] = req;
    return req;
  }

  /** Mean body size of a sample, in bytes (for the raw JetStream baseline). */
  meanBodyBytes(sample = 1000): number {
    const mix = new RequestMix(this.keys, 0);
    let total = 0;
    for (let i = 0; i < sample; i++) total += Buffer.byteLength(mix.next().body);
    return Math.round(total / sample);
  }
}
