import { LookupCache } from '@switchyard/batching';
import { CeilingDefaults, NO_OVERRIDES, effectiveCeilings } from '@switchyard/ceilings';
import { ClinicChanges, ClinicLimitsRepository } from '@switchyard/persistence';
import { IngressRate } from './clinic-rate-limiter';

/**
 * Each clinic's ingress rate: an operator's override (clinic_limits) or INGRESS_RATE_LIMIT/BURST, kept as
 * long as `changes` allows, like the key lookup: until the clinic changes while changes are heard, for
 * AUTH_CACHE_TTL otherwise. A lookup that fails answers the defaults for AUTH_CACHE_TTL: the limiter never
 * turns a Postgres hiccup into refused events, nor keeps the hiccup's answer for long.
 */
export class ClinicIngressRates {
  private readonly cache: LookupCache<string, { rate: IngressRate; failed: boolean }>;

  constructor(
    private readonly limits: ClinicLimitsRepository,
    private readonly defaults: CeilingDefaults,
    changes: ClinicChanges,
  ) {
    this.cache = new LookupCache(({ failed }) => (failed ? changes.ttlMs : changes.keepForMs()));
    changes.onChange((clinicId) => (clinicId === '*' ? this.cache.clear() : this.cache.delete(clinicId)));
  }

  async rateOf(clinicId: string): Promise<IngressRate> {
    return (await this.cache.get(clinicId, () => this.load(clinicId))).rate;
  }

  private async load(clinicId: string): Promise<{ rate: IngressRate; failed: boolean }> {
    const overrides = await this.limits.overrides(clinicId).catch(() => null);
    const c = effectiveCeilings(overrides ?? NO_OVERRIDES, this.defaults);
    return { rate: { ratePerSecond: c.ingressRatePerSecond, burst: c.ingressBurst }, failed: overrides === null };
  }
}
