import { DataSource } from 'typeorm';
import { LOOKUP_TIMEOUT_MS, rawQuery } from '../raw-query';
import { CeilingOverrides } from '@switchyard/ceilings';
import { LIMITS_COLUMNS, LimitsRow, lockClinic, toOverrides } from './clinic-lock';
import { SubscriberClamp, clampSubscribers } from './subscriber.repository';

const COLUMNS: Record<keyof CeilingOverrides, keyof LimitsRow> = {
  maxSubscribers: 'max_subscribers',
  maxInFlight: 'max_in_flight',
  maxTimeoutMs: 'max_timeout_ms',
  ingressRatePerSecond: 'ingress_rate_per_second',
  ingressBurst: 'ingress_burst',
};

/** An operator's overrides of a clinic's ceilings (table clinic_limits; no row = every default). */
export class ClinicLimitsRepository {
  constructor(private readonly ds: DataSource) {}

  async overrides(clinicId: string): Promise<CeilingOverrides> {
    const rows: LimitsRow[] = await rawQuery(
      this.ds,
      `SELECT ${LIMITS_COLUMNS} FROM clinic_limits WHERE clinic_id = $1`,
      [clinicId],
      { timeoutMs: LOOKUP_TIMEOUT_MS },
    );
    return toOverrides(rows[0]);
  }

  /**
   * Sets the given overrides (null = back to the default), leaves the others, and brings the clinic's live
   * subscribers within the new ceilings (`clampTo` says what to clamp to; without it none is changed), in one
   * transaction under the clinic's row lock. A subscriber write checked against the old ceilings has committed
   * before and is clamped here, or waits and is checked against the new ones. Null when the clinic does not exist.
   */
  async setOverrides(
    clinicId: string,
    patch: Partial<CeilingOverrides>,
    clampTo?: (next: CeilingOverrides) => SubscriberClamp,
  ): Promise<{ overrides: CeilingOverrides; clamped: number } | null> {
    return this.ds.transaction(async (em) => {
      const current = await lockClinic(em, clinicId);
      if (!current) return null;
      const next = { ...current, ...patch };
      const names = Object.keys(COLUMNS) as Array<keyof CeilingOverrides>;
      await em.query(
        `INSERT INTO clinic_limits (clinic_id, ${names.map((n) => COLUMNS[n]).join(', ')}, updated_at)
         VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')}, now())
         ON CONFLICT (clinic_id) DO UPDATE SET ${names.map((n) => `${COLUMNS[n]} = EXCLUDED.${COLUMNS[n]}`).join(', ')}, updated_at = now()`,
        [clinicId, ...names.map((n) => next[n])],
      );
      return { overrides: next, clamped: clampTo ? await clampSubscribers(em, clinicId, clampTo(next)) : 0 };
    });
  }
}
