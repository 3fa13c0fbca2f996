import { LookupCache } from '@switchyard/batching';
import { CeilingDefaults, NO_OVERRIDES, effectiveCeilings } from '@switchyard/ceilings';
import { ClinicLimitsRepository } from '@switchyard/persistence';
import { IngressRate } from './clinic-rate-limiter';

/**
 * Each clinic's ingress rate: an operator's override (clinic_limits) or INGRESS_RATE_LIMIT/BURST, looked up
 * once per clinic per `ttlMs` (AUTH_CACHE_TTL, like the key lookup), so a changed override takes effect
 * within it. A lookup that fails answers the defaults for that TTL: the limiter never turns a Postgres
 * hiccup into refused events.
 */
export class ClinicIngressRates {
  private readonly cache: LookupCache<string, IngressRate>;

  constructor(
    private readonly limits: ClinicLimitsRepository,
    private readonly defaults: CeilingDefaults,
    ttlMs: number,
  ) {
    this.cache = new LookupCache(ttlMs);
  }

  rateOf(clinicId: string): Promise<IngressRate> {
    return this.cache.get(clinicId, async () => {
      const overrides = await this.limits.overrides(clinicId).catch(() => NO_OVERRIDES);
      const c = effectiveCeilings(overrides, this.defaults);
      return { ratePerSecond: c.ingressRatePerSecond, burst: c.ingressBurst };
    });
  }
}
