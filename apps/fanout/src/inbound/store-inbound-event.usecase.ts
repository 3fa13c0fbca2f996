import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { KNOWN_EVENT_NAMES, entityIdOf } from '@switchyard/contracts';
import { DeliveryDispatcher } from '@switchyard/delivery';
import { DeliveryRepository, StoredEvent, SubscriberCache } from '@switchyard/persistence';
import { Metrics, eventTypeLabel } from '@switchyard/observability';
import { SerialByKey } from './serial-by-key';

/**
 * One inbound event → the event row and one delivery per matching subscriber, idempotently. Deliveries
 * this process has room for are created already leased and handed to the dispatcher right after the
 * transaction commits (no polling delay on the happy path); the rest wait for the scheduler.
 */
@Injectable()
export class StoreInboundEventUseCase {
  /** Events about one entity are stored in the order received, so ordered subscribers can rely on it. */
  private readonly perEntity = new SerialByKey();

  constructor(
    private readonly subscribers: SubscriberCache,
    private readonly deliveries: DeliveryRepository,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute(event: Omit<StoredEvent, 'entityId'>): Promise<{ created: boolean; deliveries: number }> {
    const eventType = eventTypeLabel(event.eventName, KNOWN_EVENT_NAMES);
    let data: Record<string, unknown> = {};
    try {
      data = (JSON.parse(event.payload) as { event_data?: Record<string, unknown> }).event_data ?? {};
    } catch {
      // Ingress validated the body; an unparseable one here is stored as is and sent as is.
    }
    const stored: StoredEvent = { ...event, entityId: entityIdOf({ eventName: event.eventName, data }) ?? null };
    // Called in stream order; everything above is synchronous, so the queue per entity keeps that order.
    return this.perEntity.run(stored.entityId && `${stored.clinicId}:${stored.entityId}`, () => this.fanOut(stored, eventType));
  }

  private async fanOut(stored: StoredEvent, eventType: string): Promise<{ created: boolean; deliveries: number }> {
    const targets = await this.subscribers.findSubscribersFor(stored.clinicId, stored.eventName);
    // Ordered subscribers always go through the scheduler, which knows what is still unfinished per entity.
    const takeNow = new Set(targets.filter((t) => t.enabled && !t.ordered && this.dispatcher.reserve(t.id, t.maxInFlight)).map((t) => t.id));
    const releaseUnused = (used: Set<string>) => takeNow.forEach((id) => used.has(id) || this.dispatcher.release(id));
    let result: Awaited<ReturnType<DeliveryRepository['storeEvent']>>;
    try {
      result = await this.deliveries.storeEvent(stored, targets, takeNow, this.config.DELIVERY_LEASE);
    } catch (err) {
      releaseUnused(new Set());
      throw err;
    }
    this.metrics.fanoutEvents.inc({ event_type: eventType, result: result.created ? 'stored' : 'duplicate' });
    if (result.deliveries.length > 0) this.metrics.deliveriesCreated.inc({ event_type: eventType }, result.deliveries.length);

    const byId = new Map(targets.map((t) => [t.id, t]));
    const taken = result.deliveries.filter((d) => d.status === 'delivering');
    releaseUnused(new Set(taken.map((d) => d.subscriberId)));
    this.dispatcher.offer(
      taken.map((d) => ({ deliveryId: d.id, attemptCount: 0, event: stored, subscriber: byId.get(d.subscriberId)! })),
      true,
    );
    const waiting = result.deliveries.filter((d) => d.status === 'pending');
    for (const d of waiting) this.dispatcher.noteWaiting(d.subscriberId, byId.get(d.subscriberId)!.maxInFlight);
    if (waiting.length > 0) this.dispatcher.wake();
    return { created: result.created, deliveries: result.deliveries.length };
  }
}
