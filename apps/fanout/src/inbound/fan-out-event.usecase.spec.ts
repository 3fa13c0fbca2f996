import { loadConfig } from '@switchyard/config';
import type { DeliveryDispatcher, DeliveryScheduler } from '@switchyard/delivery';
import type { DeliveryRepository, SubscriberCache, SubscriberTarget } from '@switchyard/persistence';
import type { Logger, Metrics } from '@switchyard/observability';
import { FanOutEventUseCase, FanOutStepFailed, InboundEvent } from './fan-out-event.usecase';

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
  const subscriber: SubscriberTarget = {
    id: '00000000-0000-4000-8000-000000000002',
    clinicId: '00000000-0000-4000-8000-000000000001',
    url: 'http://127.0.0.1:9/hook',
    format: 'nimbus',
    enabled: true,
    secrets: [],
    apiKey: null,
    timeoutMs: null,
    maxInFlight: null,
    rateLimitPerSecond: null,
    ordered: false,
  };
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
