import { loadConfig } from '@switchyard/config';
import type { DeliveryDispatcher, DeliveryScheduler } from '@switchyard/delivery';
import type { DeliveryRepository, SubscriberCache, SubscriberTarget } from '@switchyard/persistence';
import { Metrics } from '@switchyard/observability';
import type { Logger } from '@switchyard/observability';
import { FanOutEventUseCase, FanOutStepFailed, InboundEvent } from './fan-out-event.usecase';

/** A subscriber as the cache hands it out: enabled, unordered, no limits, nothing to sign with. */
function target(id: string, clinicId: string, url: string): SubscriberTarget {
  return { id, clinicId, url, format: 'nimbus', enabled: true, secrets: [], apiKey: null, timeoutMs: null, maxInFlight: null, rateLimitPerSecond: null, ordered: false };
}

/**
 * How intake waits for room (inbound.consumer.ts): room frees, room frees and goes to others (queued work
 * owed it), or nothing ends at all (attempts hang). Only the last lets intake stop waiting for room.
 */
describe('FanOutEventUseCase.waitForRoom', () => {
  function useCase() {
    const listeners: Array<() => void> = [];
    const dispatcher = {
      free: 0,
      whenCapacityFrees: (l: () => void) => listeners.push(l),
    };
    const scheduler = { owedRoom: false };
    const fanOut = new FanOutEventUseCase(
      {} as SubscriberCache,
      {} as DeliveryRepository,
      dispatcher as unknown as DeliveryDispatcher,
      scheduler as unknown as DeliveryScheduler,
      {} as Metrics,
      loadConfig({}),
      'test-holder',
      {} as Logger,
    );
    /** An attempt ends: its place goes to `to` (this intake, or someone else's waiting attempt). */
    const attemptEnds = (to: 'intake' | 'others') => {
      if (to === 'intake') dispatcher.free++;
      listeners.forEach((l) => l());
    };
    return { fanOut, scheduler, attemptEnds };
  }
  const soon = (ms: number) => performance.now() + ms;

  it("answers 'room' as soon as a place frees for it", async () => {
    const { fanOut, attemptEnds } = useCase();
    const waiting = fanOut.waitForRoom(soon(5_000));
    attemptEnds('intake');
    await expect(waiting).resolves.toBe('room');
  });

  it("answers 'moving' when attempts ended but their places went to others", async () => {
    const { fanOut, attemptEnds } = useCase();
    const waiting = fanOut.waitForRoom(soon(50));
    attemptEnds('others');
    await expect(waiting).resolves.toBe('moving');
  });

  it("answers 'moving' while queued work is owed the room that frees", async () => {
    const { fanOut, scheduler, attemptEnds } = useCase();
    scheduler.owedRoom = true;
    const waiting = fanOut.waitForRoom(soon(50));
    attemptEnds('intake');
    await expect(waiting).resolves.toBe('moving');
  });

  it("answers 'stalled' when no attempt ended within the wait", async () => {
    const { fanOut } = useCase();
    await expect(fanOut.waitForRoom(soon(50))).resolves.toBe('stalled');
  });
});

/**
 * Which step failed, for the consumer's log line (it naks the message either way): looking up the clinic's
 * subscribers, flow control (slots, rate tokens) or the store. Each is a Postgres statement; here each fails
 * in turn while the others work.
 */
describe('FanOutEventUseCase.execute names the step that failed', () => {
  const subscriber = target('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'http://127.0.0.1:9/hook');
  const event: InboundEvent = {
    id: '00000000-0000-4000-8000-000000000003',
    clinicId: subscriber.clinicId,
    eventName: 'shipment:created',
    payload: '{"event_type":"shipment:created","event_data":{"shipment_id":"s1"}}',
    receivedAt: new Date(),
    traceParent: null,
    streamSeq: 1,
  };
  const down = () => Promise.reject(new Error('connection terminated'));

  function useCase(fail: 'subscriber lookup' | 'flow control' | 'store') {
    const subscribers = { findSubscribersFor: () => (fail === 'subscriber lookup' ? down() : Promise.resolve({ targets: [subscriber], unreadable: [] })) };
    const dispatcher = {
      capacity: 256,
      whenCapacityFrees: () => undefined,
      admitNew: () => (fail === 'flow control' ? down() : Promise.resolve([{ kind: 'queued', delayMs: 0 }])),
    };
    const deliveries = { storeInbound: () => (fail === 'store' ? down() : Promise.resolve([true])) };
    const log = { info: () => undefined, warn: () => undefined };
    return new FanOutEventUseCase(
      subscribers as unknown as SubscriberCache,
      deliveries as unknown as DeliveryRepository,
      dispatcher as unknown as DeliveryDispatcher,
      {} as DeliveryScheduler,
      {} as Metrics,
      loadConfig({}),
      'test-holder',
      log as unknown as Logger,
    );
  }

  it.each(['subscriber lookup', 'flow control', 'store'] as const)('%s', async (step) => {
    let admitted = 0;
    const failure = await useCase(step)
      .execute(event, true, () => admitted++)
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FanOutStepFailed);
    expect(failure).toMatchObject({ step, message: 'connection terminated' });
    expect(admitted).toBeGreaterThan(0); // intake takes the next message whatever failed
  });
});

/**
 * Intake takes the next message once this process has room for as many deliveries as the last event sent straight
 * out, not for one: with one free place, an event's other deliveries each waited for a place of their own.
 */
describe('FanOutEventUseCase.hasRoom', () => {
  const clinicId = '00000000-0000-4000-8000-000000000001';
  function useCase(subscribers: number, capacity: number) {
    const targets = Array.from({ length: subscribers }, (_, n) => target(`00000000-0000-4000-8000-00000000001${n}`, clinicId, `http://127.0.0.1:9/hook/${n}`));
    const dispatcher = {
      free: capacity,
      capacity,
      whenCapacityFrees: () => undefined,
      // Every delivery queued: what counts here is how many were offered straight from the message.
      admitNew: (jobs: unknown[]) => Promise.resolve(jobs.map(() => ({ kind: 'queued', delayMs: 0 }))),
    };
    const fanOut = new FanOutEventUseCase(
      { findSubscribersFor: () => Promise.resolve({ targets, unreadable: [] }) } as unknown as SubscriberCache,
      { storeInbound: (records: unknown[]) => Promise.resolve(records.map(() => true)) } as unknown as DeliveryRepository,
      dispatcher as unknown as DeliveryDispatcher,
      { owedRoom: false, wake: () => undefined, noteDue: () => undefined } as unknown as DeliveryScheduler,
      new Metrics('fanout'),
      loadConfig({ DELIVERY_RECORD_WINDOW: '0ms', DELIVERY_STORE_WINDOW: '0ms' }),
      'test-holder',
      { info: () => undefined, warn: () => undefined } as unknown as Logger,
    );
    const event = (n: number): InboundEvent => ({
      id: `00000000-0000-4000-8000-00000000002${n}`,
      clinicId,
      eventName: 'shipment:created',
      payload: '{"event_type":"shipment:created","event_data":{"shipment_id":"s1"}}',
      receivedAt: new Date(),
      traceParent: null,
      streamSeq: n,
    });
    return { fanOut, dispatcher, event };
  }

  it('asks for room for every delivery the last event sent straight out', async () => {
    const { fanOut, dispatcher, event } = useCase(3, 256);
    dispatcher.free = 1;
    expect(fanOut.hasRoom()).toBe(true); // no event yet: room for one
    await fanOut.execute(event(1), true);
    expect(fanOut.hasRoom()).toBe(false);
    dispatcher.free = 2;
    expect(fanOut.hasRoom()).toBe(false);
    dispatcher.free = 3;
    expect(fanOut.hasRoom()).toBe(true);
  });

  it('never asks for more room than the process has', async () => {
    const { fanOut, dispatcher, event } = useCase(3, 2);
    await fanOut.execute(event(1), true);
    dispatcher.free = 2;
    expect(fanOut.hasRoom()).toBe(true);
  });

  it('leaves what a redelivered message stores first out of it', async () => {
    const { fanOut, dispatcher, event } = useCase(3, 256);
    await fanOut.execute(event(1), false); // not fresh: its deliveries are queued, none offered straight out
    dispatcher.free = 1;
    expect(fanOut.hasRoom()).toBe(true);
  });
});
