import { DataSource } from 'typeorm';
import type { KeyRing } from '@switchyard/secrets';
import { RequestIdempotencyRepository, SubscriberRepository } from './repositories';

export interface ReencryptReport {
  subscribers: number;
  idempotencyAnswers: number;
  /** Ids (subscribers) or `scope key` (answers) whose values no key of the ring reads: left as they are. */
  unreadable: string[];
  /** Secrets of subscribers per key id after the run (`plain`: not encrypted). */
  subscriberSecretsByKey: Record<string, number>;
}

const NO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * `switchyard reencrypt-secrets`: every stored secret (subscribers' signing secrets and API keys,
 * remembered Idempotency-Key answers) that is plain text or under another key is re-encrypted under the
 * active key, in batches of `batchSize` rows, one short transaction each. Idempotent: a second run finds
 * nothing to do. Rows held by another transaction at that moment are passed over (run it again).
 */
export async function reencryptSecrets(ds: DataSource, keys: KeyRing, batchSize = 500): Promise<ReencryptReport> {
  const subscribers = new SubscriberRepository(ds, keys);
  const answers = new RequestIdempotencyRepository(ds, keys);
  const report: ReencryptReport = { subscribers: 0, idempotencyAnswers: 0, unreadable: [], subscriberSecretsByKey: {} };
  for (let after: string | null = NO_UUID; after !== null; ) {
    const r = await subscribers.reencryptBatch(after, batchSize);
    report.subscribers += r.reencrypted;
    report.unreadable.push(...r.unreadable);
    after = r.scanned < batchSize ? null : r.lastId;
  }
  for (let after: [string, string] | null = ['', '']; after !== null; ) {
    const r = await answers.reencryptBatch(after, batchSize);
    report.idempotencyAnswers += r.reencrypted;
    if (r.unreadable > 0) report.unreadable.push(`${r.unreadable} Idempotency-Key answer(s)`);
    after = r.scanned < batchSize ? null : r.last;
  }
  report.subscriberSecretsByKey = await subscribers.countByKey();
  return report;
}
