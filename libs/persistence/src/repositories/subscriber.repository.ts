import { DataSource, IsNull } from 'typeorm';
import { rawQuery } from '../raw-query';
import { SubscriberEntity } from '../entities';

export type NewSubscriber = Pick<
  SubscriberEntity,
  'id' | 'clinicId' | 'url' | 'eventTypes' | 'format' | 'secret' | 'apiKey' | 'timeoutMs' | 'ordered' | 'maxInFlight' | 'rateLimitPerSecond'
>;

export type SubscriberPatch = Partial<
  Pick<SubscriberEntity, 'url' | 'eventTypes' | 'format' | 'enabled' | 'apiKey' | 'timeoutMs' | 'ordered' | 'maxInFlight' | 'rateLimitPerSecond' | 'disabledReason'>
>;

/** What the delivery side needs to know about a subscriber to send to it. */
export interface SubscriberTarget {
  id: string;
  clinicId: string;
  url: string;
  format: 'cloudevents' | 'nimbus';
  enabled: boolean;
  secrets: string[];
  apiKey: string | null;
  timeoutMs: number | null;
  maxInFlight: number | null;
  rateLimitPerSecond: number | null;
  ordered: boolean;
}

interface TargetRow {
  id: string;
  clinic_id: string;
  url: string;
  format: 'cloudevents' | 'nimbus';
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  api_key: string | null;
  timeout_ms: number | null;
  max_in_flight: number | null;
  rate_limit_per_second: number | null;
  ordered: boolean;
}

export const TARGET_COLUMNS = `s.id, s.clinic_id, s.url, s.format, s.enabled, s.secret, s.previous_secret,
  s.previous_secret_expires_at, s.api_key, s.timeout_ms, s.max_in_flight, s.rate_limit_per_second, s.ordered`;

export function toTarget(row: TargetRow, now = Date.now()): SubscriberTarget {
  const secrets = [row.secret];
  if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > now) {
    secrets.push(row.previous_secret);
  }
  return {
    id: row.id,
    clinicId: row.clinic_id,
    url: row.url,
    format: row.format,
    enabled: row.enabled,
    secrets,
    apiKey: row.api_key,
    timeoutMs: row.timeout_ms,
    maxInFlight: row.max_in_flight,
    rateLimitPerSecond: row.rate_limit_per_second,
    ordered: row.ordered,
  };
}

/** Subscribers, always scoped to a clinic: every method takes the clinic id first. */
export class SubscriberRepository {
  constructor(private readonly ds: DataSource) {}

  private get repo() {
    return this.ds.getRepository(SubscriberEntity);
  }

  async create(s: NewSubscriber): Promise<SubscriberEntity> {
    await this.repo.insert({ ...s, enabled: true });
    return this.repo.findOneByOrFail({ id: s.id });
  }

  async get(clinicId: string, id: string): Promise<SubscriberEntity | null> {
    return this.repo.findOneBy({ clinicId, id, deletedAt: IsNull() });
  }

  /** For operators only (the admin token), who may address any clinic's subscriber by id. */
  async getAnyClinic(id: string): Promise<SubscriberEntity | null> {
    return this.repo.findOneBy({ id, deletedAt: IsNull() });
  }

  async list(clinicId: string): Promise<SubscriberEntity[]> {
    return this.repo.find({ where: { clinicId, deletedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  async update(clinicId: string, id: string, patch: SubscriberPatch): Promise<SubscriberEntity | null> {
    if (Object.keys(patch).length > 0) await this.repo.update({ clinicId, id, deletedAt: IsNull() }, patch);
    return this.get(clinicId, id);
  }

  /** The new secret signs from now on; the old one keeps signing (both are sent) for `overlapSeconds`. */
  async rotateSecret(clinicId: string, id: string, secret: string, overlapSeconds: number): Promise<SubscriberEntity | null> {
    await this.ds.query(
      `UPDATE subscribers SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $4),
              secret = $3, updated_at = now()
        WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL`,
      [clinicId, id, secret, overlapSeconds],
    );
    return this.get(clinicId, id);
  }

  /**
   * The clinic's subscribers an event goes to: not deleted, event filter matching the name or `*`.
   * Disabled ones are included (their deliveries are parked until re-enabled).
   */
  async findSubscribersFor(clinicId: string, eventName: string): Promise<SubscriberTarget[]> {
    const rows: TargetRow[] = await rawQuery(
      this.ds,
      `SELECT ${TARGET_COLUMNS} FROM subscribers s
        WHERE s.clinic_id = $1 AND s.deleted_at IS NULL AND (s.event_types @> ARRAY['*'] OR s.event_types @> ARRAY[$2])`,
      [clinicId, eventName],
    );
    return rows.map((r) => toTarget(r));
  }

  /** Every subscriber of the clinic that is not deleted, with its event filter (what SubscriberCache keeps). */
  async findClinicSubscribers(clinicId: string): Promise<ClinicSubscriberRow[]> {
    return rawQuery(this.ds, `SELECT ${TARGET_COLUMNS}, s.event_types FROM subscribers s WHERE s.clinic_id = $1 AND s.deleted_at IS NULL`, [clinicId]);
  }
}

export type ClinicSubscriberRow = TargetRow & { event_types: string[] };

/** Whether a subscriber's event filter takes this event: the same test as findSubscribersFor's SQL. */
export function takesEvent(row: ClinicSubscriberRow, eventName: string): boolean {
  return row.event_types.includes('*') || row.event_types.includes(eventName);
}
