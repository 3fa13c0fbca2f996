import { DataSource } from 'typeorm';
import { LOOKUP_TIMEOUT_MS, rawQuery } from '../raw-query';
import { CeilingOverrides, NO_OVERRIDES } from '@switchyard/ceilings';

interface LimitsRow {
  max_subscribers: number | null;
  max_in_flight: number | null;
  max_timeout_ms: number | null;
  ingress_rate_per_second: number | null;
  ingress_burst: number | null;
}

const COLUMNS: Record<keyof CeilingOverrides, keyof LimitsRow> = {
  maxSubscribers: 'max_subscribers',
  maxInFlight: 'max_in_flight',
  maxTimeoutMs: 'max_timeout_ms',
  ingressRatePerSecond: 'ingress_rate_per_second',
  ingressBurst: 'ingress_burst',
};

const toOverrides = (row: LimitsRow | undefined): CeilingOverrides =>
  row
    ? {
        maxSubscribers: row.max_subscribers,
        maxInFlight: row.max_in_flight,
        maxTimeoutMs: row.max_timeout_ms,
        ingressRatePerSecond: row.ingress_rate_per_second,
        ingressBurst: row.ingress_burst,
      }
    : { ...NO_OVERRIDES };

/** An operator's overrides of a clinic's ceilings (table clinic_limits; no row = every default). */
export class ClinicLimitsRepository {
  constructor(private readonly ds: DataSource) {}

  async overrides(clinicId: string): Promise<CeilingOverrides> {
    const rows: LimitsRow[] = await rawQuery(
      this.ds,
      `SELECT max_subscribers, max_in_flight, max_timeout_ms, ingress_rate_per_second, ingress_burst FROM clinic_limits WHERE clinic_id = $1`,
      [clinicId],
      undefined,
      LOOKUP_TIMEOUT_MS,
    );
    return toOverrides(rows[0]);
  }

  /** Sets the given overrides (null = back to the default), leaves the others; null when the clinic does not exist. */
  async setOverrides(clinicId: string, patch: Partial<CeilingOverrides>): Promise<CeilingOverrides | null> {
    return this.ds.transaction(async (em) => {
      const clinic = await em.query(`SELECT 1 FROM clinics WHERE id = $1 FOR UPDATE`, [clinicId]);
      if (clinic.length === 0) return null;
      const current = toOverrides((await em.query(`SELECT * FROM clinic_limits WHERE clinic_id = $1`, [clinicId]))[0]);
      const next = { ...current, ...patch };
      const names = Object.keys(COLUMNS) as Array<keyof CeilingOverrides>;
      await em.query(
        `INSERT INTO clinic_limits (clinic_id, ${names.map((n) => COLUMNS[n]).join(', ')}, updated_at)
         VALUES ($1, ${names.map((_, i) => `$${i + 2}`).join(', ')}, now())
         ON CONFLICT (clinic_id) DO UPDATE SET ${names.map((n) => `${COLUMNS[n]} = EXCLUDED.${COLUMNS[n]}`).join(', ')}, updated_at = now()`,
        [clinicId, ...names.map((n) => next[n])],
      );
      return next;
    });
  }
}
