/**
 * Runs tasks with the same key one after another, in the order they were submitted; tasks with other
 * keys (or none) run concurrently. Fan-out submits in stream order, so two events about one entity are
 * stored in the order received even though up to 64 inbound messages are handled at once.
 */
export class SerialByKey {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string | null, task: () => Promise<T>): Promise<T> {
    if (key === null) return task();
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => this.tails.get(key) === tail && this.tails.delete(key));
    return result;
  }
}
