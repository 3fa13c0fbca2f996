import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';

/** JetStream API error codes a cluster answers while it elects or places (nats-server's errors.json). */
const CLUSTER_BUSY_CODES = new Set([
  10005, // no suitable peers for placement (servers still joining)
  10008, // JetStream system temporarily unavailable (no meta leader)
  10009, // JetStream cluster can not handle request (not the leader)
]);

/**
 * Whether a JetStream API call failed because NATS is not answering *yet*: a request timeout or no
 * responders (no meta or stream leader elected, a server restarting, JetStream still starting), or a
 * cluster that is electing or placing. Worth retrying with backoff; anything else (a bad config, a
 * permission) is not.
 */
export function isTransientJetStreamError(err: unknown): boolean {
  // No responders on a JetStream request comes back as `jetstream is not enabled` (matched by message below).
  if (err instanceof errors.TimeoutError || err instanceof errors.NoRespondersError) return true;
  if (err instanceof errors.RequestError) return err.isNoResponders() || err.cause instanceof errors.TimeoutError;
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return false;
  if (err instanceof JetStreamApiError) {
    return err.status === 503 || err.status === 408 || CLUSTER_BUSY_CODES.has(err.code) || /offline|temporarily unavailable|leader/i.test(err.message);
  }
  return /\btimeout\b|no responders|jetstream is not enabled/i.test(String((err as Error)?.message));
}

/** The stream or the consumer asked for does not exist. */
export function isNotFound(err: unknown): boolean {
  if (err instanceof JetStreamApiError) {
    return err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound || err.status === 404;
  }
  return /not found/i.test(String((err as Error)?.message));
}
