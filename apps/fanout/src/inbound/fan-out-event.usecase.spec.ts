import { loadConfig } from '@switchyard/config';
import type { DeliveryDispatcher, DeliveryScheduler } from '@switchyard/delivery';
import type { DeliveryRepository, SubscriberCache } from '@switchyard/persistence';
import type { Logger, Metrics } from '@switchyard/observability';
import { FanOutEventUseCase } from './fan-out-event.usecase';

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
