import { Inject, Injectable } from '@nestjs/common';
import { CeilingOverrides, ClinicCeilings, effectiveCeilings, unsetWithinCeiling } from '@switchyard/ceilings';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ClinicLimitsRepository } from '@switchyard/persistence';

export interface ClinicCeilingsView {
  clinic_id: string;
  /** What is in force. */
  limits: Record<string, number>;
  /** What an operator set for this clinic (null: the default). */
  overrides: Record<string, number | null>;
}

const FIELDS: Array<[keyof ClinicCeilings, string]> = [
  ['maxSubscribers', 'max_subscribers'],
  ['maxInFlight', 'max_in_flight'],
  ['maxTimeoutMs', 'max_timeout_ms'],
  ['ingressRatePerSecond', 'ingress_rate_per_second'],
  ['ingressBurst', 'ingress_burst'],
];

/** A clinic's ceilings: its overrides over the configured defaults (docs/OPERATIONS.md#ceilings). */
@Injectable()
export class ClinicCeilingsService {
  constructor(
    private readonly limits: ClinicLimitsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The ceilings in force given a clinic's overrides (read under its lock by the subscriber writes). */
  ceilingsFrom(overrides: CeilingOverrides): ClinicCeilings {
    return effectiveCeilings(overrides, this.config);
  }

  /** What a subscriber that leaves max_in_flight / timeout_ms unset gets stored (see unsetWithinCeiling). */
  unsetValues(c: ClinicCeilings) {
    return unsetWithinCeiling(c, this.config);
  }

  async view(clinicId: string): Promise<ClinicCeilingsView> {
    return this.toView(clinicId, await this.limits.overrides(clinicId));
  }

  /**
   * Sets overrides (snake_case fields; null = back to the default) and brings the clinic's subscribers
   * within the new ceilings, in one transaction under the clinic's lock (setOverrides). Null when the clinic
   * does not exist.
   */
  async update(clinicId: string, patch: Record<string, number | null | undefined>): Promise<(ClinicCeilingsView & { clamped_subscribers: number }) | null> {
    const overrides: Partial<CeilingOverrides> = {};
    for (const [field, name] of FIELDS) if (patch[name] !== undefined) overrides[field] = patch[name];
    const set = await this.limits.setOverrides(clinicId, overrides, (next) => {
      const c = effectiveCeilings(next, this.config);
      const unset = this.unsetValues(c);
      return { maxInFlight: c.maxInFlight, timeoutMs: c.maxTimeoutMs, unsetMaxInFlight: unset.max_in_flight, unsetTimeoutMs: unset.timeout_ms };
    });
    if (!set) return null;
    return { ...this.toView(clinicId, set.overrides), clamped_subscribers: set.clamped };
  }

  private toView(clinicId: string, overrides: CeilingOverrides): ClinicCeilingsView {
    const c = effectiveCeilings(overrides, this.config);
    return {
      clinic_id: clinicId,
      limits: Object.fromEntries(FIELDS.map(([field, name]) => [name, c[field]])),
      overrides: Object.fromEntries(FIELDS.map(([field, name]) => [name, overrides[field]])),
    };
  }
}
