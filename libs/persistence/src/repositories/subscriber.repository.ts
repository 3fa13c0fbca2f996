import { DataSource, EntityManager, IsNull, QueryFailedError } from 'typeorm';
import { CeilingOverrides } from '@switchyard/ceilings';
import { KeyRing, SecretKeyError } from '@switchyard/secrets';
import { rawQuery } from '../raw-query';
import { SubscriberEntity } from '../entities';
import { LIVE_SUBSCRIBER_URL_INDEX } from '../migrations';
import { lockClinic } from './clinic-lock';

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

/**
 * The columns of a subscriber that hold secrets, stored encrypted (KeyRing, bound to the subscriber id):
 * decrypted only here, where a row becomes what the sender uses.
 */
export function toTarget(row: TargetRow, keys: KeyRing, now = Date.now()): SubscriberTarget {
  const secrets = [keys.decrypt(row.secret, row.id)];
  if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > now) {
    secrets.push(keys.decrypt(row.previous_secret, row.id));
  }
  return {
    id: row.id,
    clinicId: row.clinic_id,
    url: row.url,
    format: row.format,
    enabled: row.enabled,
    secrets,
    apiKey: keys.decryptNullable(row.api_key, row.id),
    timeoutMs: row.timeout_ms,
    maxInFlight: row.max_in_flight,
    rateLimitPerSecond: row.rate_limit_per_second,
    ordered: row.ordered,
  };
}

/**
 * A subscriber whose secrets do not decrypt: the key they were written under is not in SECRETS_KEYS (taken
 * out before `reencrypt-secrets` had moved them), or the row was altered. Nothing can be signed for it.
 */
export interface UnreadableSubscriber {
  id: string;
  clinicId: string;
  enabled: boolean;
  /** The SecretKeyError's message: names the key id, never a secret. */
  error: string;
}

/** A row as `toTarget` makes it, or why it cannot be: its secrets do not decrypt (any other error is thrown). */
export type ReadTarget = { target: SubscriberTarget } | { unreadable: UnreadableSubscriber };

export function readTarget(row: TargetRow, keys: KeyRing, now = Date.now()): ReadTarget {
  try {
    return { target: toTarget(row, keys, now) };
  } catch (err) {
    if (!(err instanceof SecretKeyError)) throw err;
    return { unreadable: { id: row.id, clinicId: row.clinic_id, enabled: row.enabled, error: err.message } };
  }
}

/**
 * The subscribers an event goes to: those fan-out can send to, and those whose secrets cannot be read (their
 * deliveries are dead-lettered with that error, as the lease does with queued ones: see DeliveryRepository).
 */
export interface SubscriberLookup {
  targets: SubscriberTarget[];
  unreadable: UnreadableSubscriber[];
}

/** Sorts read rows into a lookup's answer. */
export function lookupOf(read: Iterable<ReadTarget>): SubscriberLookup {
  const lookup: SubscriberLookup = { targets: [], unreadable: [] };
  for (const r of read) addToLookup(lookup, r);
  return lookup;
}

/** Puts one read row into a lookup's answer (the cache's per-event path, without an array of them first). */
export function addToLookup(lookup: SubscriberLookup, r: ReadTarget): void {
  if ('target' in r) lookup.targets.push(r.target);
  else lookup.unreadable.push(r.unreadable);
}

/** Values asked for above the clinic's ceilings, as the caller's `decide` names them. */
export type CeilingRefusal = { refused: 'ceiling'; problems: string[] };

/** Why a subscriber was not created: the clinic's ceilings, or the URL is already one of its subscribers. */
export type CreateRefusal =
  | { refused: 'limit'; limit: number }
  | DuplicateUrl
  | { refused: 'no_clinic' }
  | CeilingRefusal;

/** Why a subscriber was not changed: another live subscriber of its clinic has the URL, or the clinic's ceilings. */
export type UpdateRefusal = DuplicateUrl | CeilingRefusal;

/** The refusal of a URL another live subscriber of the clinic has. */
type DuplicateUrl = { refused: 'duplicate_url'; existingId: string };

/** Whether `err` is Postgres refusing a second live subscriber on one URL of a clinic (its unique index). */
function takenUrl(err: unknown): boolean {
  const e = err instanceof QueryFailedError ? (err.driverError as { code?: string; constraint?: string }) : undefined;
  return e?.code === '23505' && e.constraint === LIVE_SUBSCRIBER_URL_INDEX;
}

/** A live subscriber of the clinic on `url` other than `exceptId`, if there is one. */
async function liveOnUrl(q: DataSource | EntityManager, clinicId: string, url: string, exceptId: string): Promise<string | null> {
  const [other]: Array<{ id: string }> = await q.query(
    `SELECT id FROM subscribers WHERE clinic_id = $1 AND url = $2 AND id <> $3 AND deleted_at IS NULL LIMIT 1`,
    [clinicId, url, exceptId],
  );
  return other?.id ?? null;
}

/** What a clinic's live subscribers are brought down to when an operator lowers its ceilings (clampSubscribers). */
export interface SubscriberClamp {
  maxInFlight: number;
  timeoutMs: number;
  unsetMaxInFlight: number | null;
  unsetTimeoutMs: number | null;
}

/**
 * Brings the clinic's live subscribers within its ceilings after an operator lowered them, in `em`'s
 * transaction (ClinicLimitsRepository.setOverrides, under the clinic's lock): a setting above its ceiling is
 * lowered to it, and an unset one gets `unset*` when that is not null (the delivery default is above the
 * ceiling). Returns how many subscribers changed.
 */
export async function clampSubscribers(em: EntityManager, clinicId: string, c: SubscriberClamp): Promise<number> {
  const [, affected] = await em.query(
    `UPDATE subscribers SET
       max_in_flight = CASE WHEN max_in_flight IS NULL THEN $4::int ELSE LEAST(max_in_flight, $2) END,
       timeout_ms = CASE WHEN timeout_ms IS NULL THEN $5::int ELSE LEAST(timeout_ms, $3) END,
       updated_at = now()
     WHERE clinic_id = $1 AND deleted_at IS NULL
       AND (max_in_flight > $2 OR timeout_ms > $3 OR (max_in_flight IS NULL AND $4::int IS NOT NULL) OR (timeout_ms IS NULL AND $5::int IS NOT NULL))`,
    [clinicId, c.maxInFlight, c.timeoutMs, c.unsetMaxInFlight, c.unsetTimeoutMs],
  );
  return affected;
}

/**
 * Subscribers, always scoped to a clinic: every method takes the clinic id first. The signing secrets and
 * the subscriber's API key are encrypted on the way in (the entity holds them as stored); only `toTarget`
 * decrypts them.
 */
export class SubscriberRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyRing,
  ) {}

  private get repo() {
    return this.ds.getRepository(SubscriberEntity);
  }

  /** A row as the delivery side needs it, its secrets decrypted, or why they cannot be. */
  target(row: TargetRow, now = Date.now()): ReadTarget {
    return readTarget(row, this.keys, now);
  }

  async create(s: NewSubscriber): Promise<SubscriberEntity> {
    await this.repo.insert(this.sealed(s));
    return this.repo.findOneByOrFail({ id: s.id });
  }

  /**
   * Creates the subscriber `decide` makes from the clinic's ceiling overrides, unless it refuses (a value above
   * a ceiling) or the clinic already has as many live subscribers as `decide` allows, or one with the same URL.
   * The clinic row is locked for the ceilings, the checks and the insert (lockClinic), so neither a concurrent
   * create nor a lowered ceiling can slip between a check and the insert. A live row on the URL that something
   * not taking the lock commits meanwhile is refused by the database's unique index: answered the same way.
   */
  async createWithinLimit(
    clinicId: string,
    decide: (overrides: CeilingOverrides) => { subscriber: NewSubscriber; maxSubscribers: number } | CeilingRefusal,
  ): Promise<SubscriberEntity | CreateRefusal> {
    let writing: { id: string; url: string } | undefined;
    return this.refusingTakenUrl(clinicId, () => writing, () => this.ds.transaction(async (em) => {
      const overrides = await lockClinic(em, clinicId);
      if (!overrides) return { refused: 'no_clinic' as const };
      const decided = decide(overrides);
      if ('refused' in decided) return decided;
      const { subscriber: s, maxSubscribers } = decided;
      writing = s;
      const [live]: Array<{ n: number; same_url: string | null }> = await em.query(
        `SELECT count(*)::int AS n, (array_agg(id) FILTER (WHERE url = $2))[1] AS same_url
           FROM subscribers WHERE clinic_id = $1 AND deleted_at IS NULL`,
        [clinicId, s.url],
      );
      if (live!.same_url) return { refused: 'duplicate_url' as const, existingId: live!.same_url };
      if (live!.n >= maxSubscribers) return { refused: 'limit' as const, limit: maxSubscribers };
      await em.getRepository(SubscriberEntity).insert(this.sealed(s));
      return em.getRepository(SubscriberEntity).findOneByOrFail({ id: s.id });
    }));
  }

  /**
   * Runs a create or change that writes the subscriber and URL `writing()` names (once `write` has decided
   * them) and answers a violation of the unique index on live URLs with the refusal the check under the
   * clinic's lock gives, naming the subscriber that has the URL. Only a write that does not take the lock (SQL,
   * another tool) can commit the row this one then collides with. The error is thrown on if that row is gone
   * again by the time it is looked for.
   */
  private async refusingTakenUrl<T>(clinicId: string, writing: () => { id: string; url: string } | undefined, write: () => Promise<T>): Promise<T | DuplicateUrl> {
    try {
      return await write();
    } catch (err) {
      const w = writing();
      if (w === undefined || !takenUrl(err)) throw err;
      const existingId = await liveOnUrl(this.ds, clinicId, w.url, w.id);
      if (existingId === null) throw err;
      return { refused: 'duplicate_url', existingId };
    }
  }

  /** A subscriber's current signing secret, decrypted (the console's "show secret"; the entity holds it as stored). */
  signingSecretOf(subscriber: Pick<SubscriberEntity, 'id' | 'secret'>): string {
    return this.keys.decrypt(subscriber.secret, subscriber.id);
  }

  /** The clinic of a subscriber, deleted or not (for records about an operator's action on it). */
  async clinicOf(id: string): Promise<string | null> {
    const rows: Array<{ clinic_id: string }> = await this.ds.query(`SELECT clinic_id FROM subscribers WHERE id = $1`, [id]);
    return rows[0]?.clinic_id ?? null;
  }

  private sealed(s: NewSubscriber) {
    return { ...s, enabled: true, secret: this.keys.encrypt(s.secret, s.id), apiKey: this.keys.encryptNullable(s.apiKey, s.id) };
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

  /**
   * Applies the patch `decide` makes from the clinic's ceiling overrides, unless it refuses (a value above a
   * ceiling) or the patch's URL is another live subscriber's of the clinic. Under the clinic's row lock, as a
   * create and a change of the ceilings: a check made before the lock could pass against a URL a create was
   * about to commit, or a ceiling an operator was lowering. A URL taken meanwhile by something that does not
   * take the lock is refused by the unique index, and answered the same way. Null when the subscriber is gone
   * (or its clinic).
   */
  async updateWithinCeilings(
    clinicId: string,
    id: string,
    decide: (overrides: CeilingOverrides) => SubscriberPatch | CeilingRefusal,
  ): Promise<SubscriberEntity | UpdateRefusal | null> {
    let writing: { id: string; url: string } | undefined;
    return this.refusingTakenUrl(clinicId, () => writing, () => this.ds.transaction(async (em) => {
      const overrides = await lockClinic(em, clinicId);
      if (!overrides) return null;
      const patch = decide(overrides);
      if ('refused' in patch) return patch;
      if (patch.url !== undefined) {
        writing = { id, url: patch.url };
        const existingId = await liveOnUrl(em, clinicId, patch.url, id);
        if (existingId !== null) return { refused: 'duplicate_url' as const, existingId };
      }
      const stored = patch.apiKey === undefined ? patch : { ...patch, apiKey: this.keys.encryptNullable(patch.apiKey, id) };
      const rows = em.getRepository(SubscriberEntity);
      if (Object.keys(stored).length > 0) await rows.update({ clinicId, id, deletedAt: IsNull() }, stored);
      return rows.findOneBy({ clinicId, id, deletedAt: IsNull() });
    }));
  }

  /** The new secret signs from now on; the old one keeps signing (both are sent) for `overlapSeconds`. */
  async rotateSecret(clinicId: string, id: string, secret: string, overlapSeconds: number): Promise<SubscriberEntity | null> {
    await this.ds.query(
      `UPDATE subscribers SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $4),
              secret = $3, updated_at = now()
        WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL`,
      [clinicId, id, this.keys.encrypt(secret, id), overlapSeconds],
    );
    return this.get(clinicId, id);
  }

  /**
   * The clinic's subscribers an event goes to: not deleted, event filter matching the name or `*`.
   * Disabled ones are included (their deliveries are parked until re-enabled). One whose secrets cannot be
   * read is answered apart, not thrown: it held up every event of its clinic, and its other subscribers.
   */
  async findSubscribersFor(clinicId: string, eventName: string): Promise<SubscriberLookup> {
    const rows: TargetRow[] = await rawQuery(
      this.ds,
      `SELECT ${TARGET_COLUMNS} FROM subscribers s
        WHERE s.clinic_id = $1 AND s.deleted_at IS NULL AND (s.event_types @> ARRAY['*'] OR s.event_types @> ARRAY[$2])`,
      [clinicId, eventName],
    );
    const now = Date.now();
    return lookupOf(rows.map((r) => this.target(r, now)));
  }

  /** Every subscriber of the clinic that is not deleted, with its event filter (what SubscriberCache keeps). */
  async findClinicSubscribers(clinicId: string): Promise<ClinicSubscriberRow[]> {
    return rawQuery(this.ds, `SELECT ${TARGET_COLUMNS}, s.event_types FROM subscribers s WHERE s.clinic_id = $1 AND s.deleted_at IS NULL`, [clinicId]);
  }

  /**
   * Re-encrypts, under the active key, the secrets of up to `limit` subscribers (deleted ones too) whose
   * values are plain text or under another key, after `afterId` in id order. One short transaction; rows
   * another process holds are skipped and met again on the next run. A row whose value cannot be read
   * (its key is not in the ring) is left as it is and counted.
   */
  async reencryptBatch(afterId: string, limit: number): Promise<{ scanned: number; reencrypted: number; unreadable: string[]; lastId: string | null }> {
    const prefix = `enc:v1:${this.keys.activeKeyId}:`;
    return this.ds.transaction(async (em) => {
      const rows: Array<{ id: string; secret: string; previous_secret: string | null; api_key: string | null }> = await em.query(
        `SELECT id, secret, previous_secret, api_key FROM subscribers
          WHERE id > $1 AND (left(secret, length($2)) <> $2
             OR (previous_secret IS NOT NULL AND left(previous_secret, length($2)) <> $2)
             OR (api_key IS NOT NULL AND left(api_key, length($2)) <> $2))
          ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [afterId, prefix, limit],
      );
      const unreadable: string[] = [];
      const ids: string[] = [];
      const secrets: string[] = [];
      const previous: Array<string | null> = [];
      const apiKeys: Array<string | null> = [];
      for (const r of rows) {
        const again = (v: string | null) => (v === null || this.keys.isCurrent(v) ? v : this.keys.encrypt(this.keys.decrypt(v, r.id), r.id));
        try {
          const next = [again(r.secret)!, again(r.previous_secret), again(r.api_key)] as const;
          ids.push(r.id);
          secrets.push(next[0]);
          previous.push(next[1]);
          apiKeys.push(next[2]);
        } catch {
          unreadable.push(r.id);
        }
      }
      if (ids.length > 0) {
        await em.query(
          `UPDATE subscribers s SET secret = v.secret, previous_secret = v.previous_secret, api_key = v.api_key
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, secret, previous_secret, api_key)
            WHERE s.id = v.id`,
          [ids, secrets, previous, apiKeys],
        );
      }
      return { scanned: rows.length, reencrypted: ids.length, unreadable, lastId: rows.length ? rows[rows.length - 1]!.id : null };
    });
  }

  /** How many subscribers hold a secret under each key id (`plain` for values not yet encrypted). */
  async countByKey(): Promise<Record<string, number>> {
    const rows: Array<{ kid: string; n: number }> = await this.ds.query(
      `SELECT kid, count(*)::int AS n FROM (
         SELECT CASE WHEN v LIKE 'enc:v1:%' THEN split_part(v, ':', 3) ELSE 'plain' END AS kid
           FROM subscribers, LATERAL (VALUES (secret), (previous_secret), (api_key)) AS c(v) WHERE v IS NOT NULL
       ) k GROUP BY kid ORDER BY kid`,
    );
    return Object.fromEntries(rows.map((r) => [r.kid, r.n]));
  }
}

export type ClinicSubscriberRow = TargetRow & { event_types: string[] };

/** Whether a subscriber's event filter takes this event: the same test as findSubscribersFor's SQL. */
export function takesEvent(row: ClinicSubscriberRow, eventName: string): boolean {
  return row.event_types.includes('*') || row.event_types.includes(eventName);
}
