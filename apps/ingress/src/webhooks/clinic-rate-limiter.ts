/**
 * Per-clinic token buckets, in memory: each clinic may send `ratePerSecond` events per second on average and
 * `burst` at once, so one clinic's flood is refused (429) before it costs a dedupe claim or a publish, and
 * the other clinics are not starved. A rate of 0 turns the limiter off. Each ingress replica counts on its
 * own, so the effective limit behind N replicas is N × the rate.
 */
export class ClinicRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxClinics = 100_000,
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Takes one token; `{ ok: false, retryAfterSeconds }` when the clinic's bucket is empty. */
  take(clinicId: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (!this.enabled) return { ok: true };
    const now = this.now();
    const bucket = this.buckets.get(clinicId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    this.buckets.delete(clinicId); // re-inserted below: the Map's order is least recently used first
    if (this.buckets.size >= this.maxClinics) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(clinicId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond)) };
  }
}
