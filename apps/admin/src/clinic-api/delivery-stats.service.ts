import { Injectable } from '@nestjs/common';
import { DeliveryQueryRepository, DeliveryStatus } from '@switchyard/persistence';

/** How each delivery status counts in the chart. */
const SERIES: Record<DeliveryStatus, 'succeeded' | 'waiting' | 'dead' | 'parked' | 'cancelled'> = {
  succeeded: 'succeeded',
  pending: 'waiting',
  delivering: 'waiting',
  dead: 'dead',
  parked: 'parked',
  cancelled: 'cancelled',
};

/** The console's chart: a clinic's deliveries per time bucket, by what became of them, every bucket present. */
@Injectable()
export class DeliveryStatsService {
  constructor(private readonly deliveries: DeliveryQueryRepository) {}

  async timeline(clinicId: string, q: { webhook_id?: string; hours: number; bucket_minutes: number }, now = Date.now()) {
    const bucketMs = q.bucket_minutes * 60_000;
    // Buckets end at the next boundary after now (aligned on the epoch), so an hour chart has whole hours.
    const until = new Date(Math.ceil((now + 1) / bucketMs) * bucketMs);
    const count = Math.ceil((q.hours * 3_600_000) / bucketMs);
    const since = new Date(until.getTime() - count * bucketMs);
    const rows = await this.deliveries.timeline(clinicId, { since, until, bucketSeconds: bucketMs / 1000, subscriberId: q.webhook_id });
    const buckets = Array.from({ length: count }, (_, i) => ({ start: new Date(since.getTime() + i * bucketMs).toISOString(), succeeded: 0, waiting: 0, dead: 0, parked: 0, cancelled: 0 }));
    for (const r of rows) {
      const i = Math.round((Date.parse(r.bucket) - since.getTime()) / bucketMs);
      if (buckets[i]) buckets[i]![SERIES[r.status]] += r.count;
    }
    return { since: since.toISOString(), until: until.toISOString(), bucket_minutes: q.bucket_minutes, buckets };
  }
}
