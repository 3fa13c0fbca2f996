/** How long a batch may wait for more calls, and whether more are worth waiting for. */
export interface BatchWindow {
  /** The longest a call waits for others to join its batch. */
  windowMs: number;
  /**
   * Whether calls are on their way (asked at each turn with calls queued): while true, the batch waits for
   * them, up to `windowMs` after its first call; when false it is written at once, so a lone call waits
   * for no timer.
   */
  moreExpected: () => boolean;
}

/**
 * Writes the calls made in the same turn of the event loop together: one statement (or one RPC) for many
 * concurrent claims. A call is queued and the queue is flushed by `setImmediate`, so the requests a
 * server parsed in one poll phase share a batch while a lone call waits for no timer. Up to
 * `maxConcurrentBatches` batches are in flight at once; beyond that, calls wait and the next batch grows
 * by itself (up to `maxBatch`) until one returns, as in group commit. With a `window`, a batch also waits
 * (at most `windowMs`) for calls its owner says are on their way: fewer, fuller batches where each costs a
 * commit, at the price of that wait.
 */
export class MicroBatcher<In, Out> {
  private queue: Array<{ input: In; resolve: (o: Out) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  private flushScheduled = false;
  /** When the oldest queued call was made (performance.now()), for the window. */
  private oldestAt = 0;
  private windowTimer?: NodeJS.Timeout;

  constructor(
    private readonly writeBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 256,
    private readonly maxConcurrentBatches = 4,
    private readonly window?: BatchWindow,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.queue.length === 0) this.oldestAt = performance.now();
      this.queue.push({ input, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Drains now, unless the window says to wait for calls on their way (then a timer drains at its end). */
  private flush(): void {
    const w = this.window;
    if (w && w.windowMs > 0 && this.queue.length > 0 && this.queue.length < this.maxBatch && w.moreExpected()) {
      const left = this.oldestAt + w.windowMs - performance.now();
      if (left > 0) {
        this.windowTimer ??= setTimeout(() => {
          this.windowTimer = undefined;
          this.drain();
        }, left);
        return;
      }
    }
    this.drain();
  }

  private drain(): void {
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.oldestAt = performance.now();
      this.running++;
      let written: Promise<Out[]>;
      try {
        written = this.writeBatch(batch.map((b) => b.input));
      } catch (err) {
        written = Promise.reject(err);
      }
      written
        .then(
          (outputs) => batch.forEach((b, i) => b.resolve(outputs[i]!)),
          (err) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.running--;
          this.drain();
        });
    }
  }
}
