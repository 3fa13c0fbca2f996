import { PendingWork } from './pending-work';

/** A promise the test settles. */
function controlled() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const p = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { p, resolve, reject };
}

describe('PendingWork', () => {
  it('waits for work started while it waits, not only for what was under way when it was asked', async () => {
    const work = new PendingWork();
    const first = controlled();
    const second = controlled();
    work.track(first.p);
    let idle: boolean | undefined;
    const waiting = work.settled(performance.now() + 5_000).then((v) => (idle = v));
    // The first ends by starting the second (an attempt whose record starts as it ends).
    first.resolve();
    work.track(second.p);
    await new Promise((r) => setTimeout(r, 20));
    expect(idle).toBeUndefined();
    second.reject(new Error('a failed record is over too'));
    await waiting;
    expect(idle).toBe(true);
    expect(work.size).toBe(0);
  });

  it('gives up at its deadline, with the work still counted', async () => {
    const work = new PendingWork();
    const hung = controlled();
    work.track(hung.p);
    const t0 = performance.now();
    expect(await work.settled(t0 + 50)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(work.size).toBe(1);
    hung.resolve();
    expect(await work.settled()).toBe(true);
  });
});
