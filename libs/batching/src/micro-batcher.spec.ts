import { MicroBatcher } from './micro-batcher';

/** A batch writer whose batches finish only when the test says so. */
function controlledWriter() {
  const batches: Array<{ inputs: number[]; finish: () => void; fail: (e: Error) => void }> = [];
  const write = (inputs: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({ inputs, finish: () => resolve(inputs.map((i) => i * 10)), fail: reject });
    });
  return { batches, write };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('MicroBatcher', () => {
  it('writes the calls made in one turn of the event loop as one batch, answering each with its own result', async () => {
    const w = controlledWriter();
    const batcher = new MicroBatcher(w.write);
    const answers = [1, 2, 3].map((i) => batcher.submit(i));
    expect(w.batches).toHaveLength(0); // nothing is written synchronously: the turn may still add calls
    await turn();
    expect(w.batches.map((b) => b.inputs)).toEqual([[1, 2, 3]]);
    w.batches[0]!.finish();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30]);
  });

  it('writes a lone call in the next turn, without waiting for a timer or for other calls', async () => {
    const w = controlledWriter();
    const batcher = new MicroBatcher(w.write);
    const answer = batcher.submit(7);
    await turn();
    expect(w.batches.map((b) => b.inputs)).toEqual([[7]]);
    w.batches[0]!.finish();
    await expect(answer).resolves.toBe(70);
  });

  it('keeps at most maxConcurrentBatches in flight; calls made meanwhile wait and go together', async () => {
    const w = controlledWriter();
    const batcher = new MicroBatcher(w.write, 256, 2);
    const answers: Array<Promise<number>> = [];
    answers.push(batcher.submit(1));
    await turn();
    answers.push(batcher.submit(2));
    await turn();
    answers.push(batcher.submit(3), batcher.submit(4));
    await turn();
    answers.push(batcher.submit(5));
    await turn();
    expect(w.batches.map((b) => b.inputs)).toEqual([[1], [2]]);
    w.batches[0]!.finish();
    await answers[0];
    await turn();
    expect(w.batches.map((b) => b.inputs)).toEqual([[1], [2], [3, 4, 5]]);
    w.batches[1]!.finish();
    w.batches[2]!.finish();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30, 40, 50]);
  });

  it('splits a turn larger than maxBatch into several batches', async () => {
    const w = controlledWriter();
    const batcher = new MicroBatcher(w.write, 2, 4);
    const answers = [1, 2, 3, 4, 5].map((i) => batcher.submit(i));
    await turn();
    expect(w.batches.map((b) => b.inputs)).toEqual([[1, 2], [3, 4], [5]]);
    w.batches.forEach((b) => b.finish());
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30, 40, 50]);
  });

  it('rejects every call of a failed batch and goes on with the next ones', async () => {
    const w = controlledWriter();
    const batcher = new MicroBatcher(w.write, 256, 1);
    const failed = [batcher.submit(1), batcher.submit(2)];
    await turn();
    w.batches[0]!.fail(new Error('database down'));
    await Promise.all(failed.map((p) => expect(p).rejects.toThrow('database down')));
    const next = batcher.submit(3);
    await turn();
    w.batches[1]!.finish();
    await expect(next).resolves.toBe(30);
  });

  it('rejects the calls of a batch whose writer throws synchronously', async () => {
    const batcher = new MicroBatcher<number, number>(() => {
      throw new Error('bad input');
    });
    await expect(batcher.submit(1)).rejects.toThrow('bad input');
  });

  // Windows are long against the waits that must stay inside them (a loaded CI machine once overslept a 20 ms
  // wait inside a 60 ms window), and waits that must outlast a window are longer than it.
  describe('with a window', () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('waits for the calls its owner expects, up to the window after the first, and writes them together', async () => {
      const w = controlledWriter();
      let expected = true;
      const batcher = new MicroBatcher(w.write, 256, 2, { windowMs: 10_000, moreExpected: () => expected });
      const first = batcher.submit(1);
      await turn();
      expect(w.batches).toHaveLength(0); // more are expected: it waits
      await sleep(20);
      const second = batcher.submit(2);
      await turn();
      expect(w.batches).toHaveLength(0);
      expected = false; // the last one expected arrives: written in that turn, before the window ends
      const third = batcher.submit(3);
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[1, 2, 3]]);
      w.batches[0]!.finish();
      await expect(Promise.all([first, second, third])).resolves.toEqual([10, 20, 30]);
    });

    it('writes what it has once the window has passed, even while more are expected', async () => {
      const w = controlledWriter();
      const batcher = new MicroBatcher(w.write, 256, 2, { windowMs: 300, moreExpected: () => true });
      const answer = batcher.submit(4);
      await sleep(10);
      expect(w.batches).toHaveLength(0);
      await sleep(400);
      expect(w.batches.map((b) => b.inputs)).toEqual([[4]]);
      w.batches[0]!.finish();
      await expect(answer).resolves.toBe(40);
    });

    it('writes a call at once when no other is expected', async () => {
      const w = controlledWriter();
      const batcher = new MicroBatcher(w.write, 256, 2, { windowMs: 10_000, moreExpected: () => false });
      const answer = batcher.submit(5);
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[5]]);
      w.batches[0]!.finish();
      await expect(answer).resolves.toBe(50);
    });

    it('holds a batch only the urgent window once it holds an urgent call, bringing its timer forward', async () => {
      const w = controlledWriter();
      let expected = true;
      const batcher = new MicroBatcher(w.write, 256, 2, { windowMs: 10_000, urgent: { windowMs: 400, test: (n) => n < 0 }, moreExpected: () => expected });
      const calm = batcher.submit(1);
      await sleep(15);
      expect(w.batches).toHaveLength(0); // held for the long window
      const urgent = batcher.submit(-1);
      await sleep(10);
      expect(w.batches).toHaveLength(0); // the urgent window runs from the batch's first call: 400 ms
      await sleep(500);
      expect(w.batches.map((b) => b.inputs)).toEqual([[1, -1]]);
      w.batches[0]!.finish();
      await expect(Promise.all([calm, urgent])).resolves.toEqual([10, -10]);
      // The next batch, without an urgent call, waits the long window again.
      const later = batcher.submit(2);
      await sleep(60);
      expect(w.batches).toHaveLength(1);
      expected = false;
      const last = batcher.submit(3);
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[1, -1], [2, 3]]);
      w.batches[1]!.finish();
      await expect(Promise.all([later, last])).resolves.toEqual([20, 30]);
    });

    it('holds the calls queued while a batch was written for their own window, not just until it ends', async () => {
      const w = controlledWriter();
      let expected = true;
      const batcher = new MicroBatcher(w.write, 256, 1, { windowMs: 500, moreExpected: () => expected });
      const first = batcher.submit(1);
      await sleep(600);
      expect(w.batches.map((b) => b.inputs)).toEqual([[1]]);
      const second = batcher.submit(2); // queued while the first batch is written
      await turn();
      w.batches[0]!.finish();
      await first;
      await turn();
      expect(w.batches).toHaveLength(1); // more are expected: it waits out its window rather than going alone
      const third = batcher.submit(3);
      await sleep(600);
      expect(w.batches.map((b) => b.inputs)).toEqual([[1], [2, 3]]);
      w.batches[1]!.finish();
      await expect(Promise.all([second, third])).resolves.toEqual([20, 30]);
      // With none expected, what queued behind a batch goes as soon as it ends.
      expected = false;
      const fourth = batcher.submit(4);
      await turn();
      const fifth = batcher.submit(5);
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[1], [2, 3], [4]]);
      w.batches[2]!.finish();
      await fourth;
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[1], [2, 3], [4], [5]]);
      w.batches[3]!.finish();
      await expect(fifth).resolves.toBe(50);
    });

    it('does not wait once a batch is full', async () => {
      const w = controlledWriter();
      const batcher = new MicroBatcher(w.write, 2, 2, { windowMs: 10_000, moreExpected: () => true });
      const answers = [6, 7].map((i) => batcher.submit(i));
      await turn();
      expect(w.batches.map((b) => b.inputs)).toEqual([[6, 7]]);
      w.batches[0]!.finish();
      await expect(Promise.all(answers)).resolves.toEqual([60, 70]);
    });
  });
});
