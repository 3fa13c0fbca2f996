/**
 * Collects the calls that arrive while a batch is being written and writes them together: one database
 * statement for many concurrent claims. A lone call is written at once (no added latency); under load the
 * batch grows by itself up to `maxBatch`.
 */
export class MicroBatcher<In, Out> {
  private queue: Array<{ input: In; resolve: (o: Out) => void; reject: (e: unknown) => void }> = [];
  private running = 0;

  constructor(
    private readonly writeBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 256,
    private readonly maxConcurrentBatches = 4,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      this.writeBatch(batch.map((b) => b.input))
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
