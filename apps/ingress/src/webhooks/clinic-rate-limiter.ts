/** A clinic's ingress allowance: events per second on average (0 = no limit) and at once. */
export interface IngressRate {
  ratePerSecond: number;
  burst: number;
}

/**
 * Per-clinic token buckets, in memory: each clinic may send its `ratePerSecond` events per second on
 * average and `burst` at once, so one clinic's flood is refused (429) before it costs a dedupe claim or a
 * publish, and the other clinics are not starved. Each clinic's rate is its own (INGRESS_RATE_LIMIT or an
 * operator's override, see ClinicIngressRates); a rate of 0 lets it through unlimited. Each ingress replica
 * counts on its own, so the effective limit behind N replicas is N × the rate.
 */
export class ClinicRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxClinics = 100_000,
  ) {}

  /** Takes one token; `{ ok: false, retryAfterSeconds }` when the clinic's bucket is empty. */
  take(clinicId: string, rate: IngressRate): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (rate.ratePerSecond <= 0) return { ok: true };
    const now = this.now();
    const bucket = this.buckets.get(clinicId) ?? { tokens: rate.burst, at: now };
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.ratePerSecond);
    bucket.at = now;
    this.buckets.delete(clinicId); // re-inserted below: the Map's order is least recently used first
    if (this.buckets.size >= this.maxClinics) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(clinicId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate.ratePerSecond)) };
  }
}
