/** How long a batch may wait for more calls, and whether more are worth waiting for. */
export interface BatchWindow<In = unknown> {
  /** The longest a call waits for others to join its batch. */
  windowMs: number;
  /**
   * Calls that something waits on once written (`test`), and the shorter wait of a batch that holds one:
   * other calls may be held the whole `windowMs` for a fuller batch, these only `windowMs` of their own.
   */
  urgent?: { windowMs: number; test: (input: In) => boolean };
  /**
   * Whether calls are on their way (asked at each turn with calls queued, and when a batch ends): while
   * true, the batch waits for them, up to its window after its first call; when false it is written at
   * once, so a lone call waits for no timer.
   */
  moreExpected: () => boolean;
}

/**
 * Writes the calls made in the same turn of the event loop together: one statement (or one RPC) for many
 * concurrent claims. A call is queued and the queue is flushed by `setImmediate`, so the requests a
 * server parsed in one poll phase share a batch while a lone call waits for no timer. Up to
 * `maxConcurrentBatches` batches are in flight at once; beyond that, calls wait and the next batch grows
 * by itself (up to `maxBatch`) until one returns, as in group commit. With a `window`, a batch also waits
 * (at most `windowMs`, or the urgent window once it holds an urgent call) for calls its owner says are on
 * their way, also when a batch ends while calls are queued: fewer, fuller batches where each costs a commit,
 * at the price of that wait.
 */
export class MicroBatcher<In, Out> {
  private queue: Array<{ input: In; resolve: (o: Out) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  private flushScheduled = false;
  /** When the oldest queued call was made (performance.now()), for the window. */
  private oldestAt = 0;
  private windowTimer?: NodeJS.Timeout;
  /** When the window timer fires (performance.now()), so an urgent call can bring it forward. */
  private windowTimerAt = Infinity;
  /** Whether a queued call is urgent (see BatchWindow.urgent). */
  private urgentQueued = false;

  constructor(
    private readonly writeBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 256,
    private readonly maxConcurrentBatches = 4,
    private readonly window?: BatchWindow<In>,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.queue.length === 0) this.oldestAt = performance.now();
      this.queue.push({ input, resolve, reject });
      if (!this.urgentQueued && this.window?.urgent?.test(input)) this.urgentQueued = true;
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
      const windowMs = this.urgentQueued && w.urgent ? Math.min(w.urgent.windowMs, w.windowMs) : w.windowMs;
      const at = this.oldestAt + windowMs;
      if (at > performance.now()) {
        if (at < this.windowTimerAt) {
          clearTimeout(this.windowTimer);
          this.windowTimerAt = at;
          this.windowTimer = setTimeout(() => {
            this.windowTimer = undefined;
            this.windowTimerAt = Infinity;
            this.drain();
          }, at - performance.now());
        }
        return;
      }
    }
    this.drain();
  }

  private drain(): void {
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.windowTimerAt = Infinity;
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.oldestAt = performance.now();
      const urgent = this.window?.urgent;
      this.urgentQueued = urgent !== undefined && this.queue.some((q) => urgent.test(q.input));
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
          // What queued meanwhile waits out its window too (a batch ending says nothing of calls on their way).
          this.flush();
        });
    }
  }
}
