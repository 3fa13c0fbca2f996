import { SubscriberEntity, SubscriberRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { pathId } from '../validation';
import { Principal, clinicScope } from './principal';

/**
 * The one clinic a request may touch: a clinic itself, or the clinic an operator names. Another clinic's
 * id is "not found" (404); an operator who names none gets 400.
 */
export function requireClinic(principal: Principal, clinicId: string | undefined, what: string): string {
  const scoped = clinicScope(principal, clinicId);
  if (scoped === null) throw ApiError.notFound(what);
  if (scoped === undefined) throw ApiError.badRequest('clinic_id: is required');
  return scoped;
}

/** A webhook (subscriber) by id within what the principal may see: its own clinic's, or any for an operator; else 404. */
export async function findWebhook(subscribers: SubscriberRepository, principal: Principal, id: string): Promise<SubscriberEntity> {
  pathId(id, 'webhook');
  const s = principal.kind === 'clinic' ? await subscribers.get(principal.clinicId, id) : await subscribers.getAnyClinic(id);
  if (!s) throw ApiError.notFound('webhook');
  return s;
}
