import { EntityManager } from 'typeorm';
import { CeilingOverrides, NO_OVERRIDES } from '@switchyard/ceilings';

export interface LimitsRow {
  max_subscribers: number | null;
  max_in_flight: number | null;
  max_timeout_ms: number | null;
  ingress_rate_per_second: number | null;
  ingress_burst: number | null;
}

export const LIMITS_COLUMNS = 'max_subscribers, max_in_flight, max_timeout_ms, ingress_rate_per_second, ingress_burst';

export const toOverrides = (row: LimitsRow | undefined): CeilingOverrides =>
  row
    ? {
        maxSubscribers: row.max_subscribers,
        maxInFlight: row.max_in_flight,
        maxTimeoutMs: row.max_timeout_ms,
        ingressRatePerSecond: row.ingress_rate_per_second,
        ingressBurst: row.ingress_burst,
      }
    : { ...NO_OVERRIDES };

/**
 * Locks the clinic's row (FOR UPDATE) in `em`'s transaction and reads the clinic's ceiling overrides under that
 * lock; null when the clinic does not exist. A write that checks a subscriber against its clinic (its URL, the
 * count, the ceilings) and a change of the ceilings both take this lock first: without it, a check could pass
 * against what another request was about to change, and both writes commit (two webhooks on one URL, a
 * max_in_flight above a ceiling lowered meanwhile).
 */
export async function lockClinic(em: EntityManager, clinicId: string): Promise<CeilingOverrides | null> {
  const clinic = await em.query(`SELECT 1 FROM clinics WHERE id = $1 FOR UPDATE`, [clinicId]);
  if (clinic.length === 0) return null;
  return toOverrides((await em.query(`SELECT ${LIMITS_COLUMNS} FROM clinic_limits WHERE clinic_id = $1`, [clinicId]))[0]);
}
