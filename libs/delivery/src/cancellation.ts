/**
 * A one-way "called off" flag with listeners: what an attempt needs of an AbortSignal, without the
 * EventTarget machinery (adding and removing a listener on a signal for every attempt was ~2.5 % of
 * fan-out's CPU in a backlog drain, bench/RESULTS.md sixth round).
 */
export class Cancellation {
  private readonly listeners = new Set<() => void>();
  private done = false;

  get cancelled(): boolean {
    return this.done;
  }

  /** Calls `listener` once when this is cancelled (at once if it already is); returns what stops listening. */
  onCancel(listener: () => void): () => void {
    if (this.done) {
      listener();
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.listeners) listener();
    this.listeners.clear();
  }
}
