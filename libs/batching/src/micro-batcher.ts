/**
 * Writes the calls made in the same turn of the event loop together: one statement (or one RPC) for many
 * concurrent claims. A call is queued and the queue is flushed by `setImmediate`, so the requests a
 * server parsed in one poll phase share a batch while a lone call waits for no timer. Up to
 * `maxConcurrentBatches` batches are in flight at once; beyond that, calls wait and the next batch grows
 * by itself (up to `maxBatch`) until one returns, as in group commit.
 */
export class MicroBatcher<In, Out> {
  private queue: Array<{ input: In; resolve: (o: Out) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  private flushScheduled = false;

  constructor(
    private readonly writeBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 256,
    private readonly maxConcurrentBatches = 4,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.drain();
        });
      }
    });
  }

  private drain(): void {
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
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
