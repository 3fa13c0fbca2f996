interface Waiter<K, T> {
  key: K;
  deadline: number;
  resolve: (value: T | null) => void;
}

/**
 * Callers waiting, first come first served, for something handed over one at a time (an in-flight slot, a
 * place in the process), each until its own deadline, when it gets null. One timer for the whole queue, set
 * for the earliest deadline, and none while nobody waits.
 */
export class WaitQueue<K, T> {
  private waiters: Array<Waiter<K, T>> = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Waits for a value handed over by `serve`, or null once `deadline` (on `now()`'s clock) passes. */
  wait(key: K, deadline: number): Promise<T | null> {
    if (deadline <= this.now()) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiters.push({ key, deadline, resolve });
      this.arm(deadline);
    });
  }

  /**
   * Hands `value` to the longest-waiting caller whose key `fits`; returns false if none takes it. A waiter
   * whose deadline has passed is answered null instead.
   */
  serve(value: T, fits: (key: K) => boolean = () => true): boolean {
    this.expire();
    const i = this.waiters.findIndex((w) => fits(w.key));
    if (i < 0) return false;
    const [w] = this.waiters.splice(i, 1);
    w!.resolve(value);
    return true;
  }

  /** Answers every waiter null (shutting down). */
  clear(): void {
    for (const w of this.waiters.splice(0)) w.resolve(null);
    clearTimeout(this.timer);
    this.timerAt = Infinity;
  }

  private expire(): void {
    const now = this.now();
    if (!this.waiters.some((w) => w.deadline <= now)) return;
    this.waiters = this.waiters.filter((w) => (w.deadline <= now ? (w.resolve(null), false) : true));
  }

  private arm(deadline: number): void {
    if (deadline >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => {
      this.timerAt = Infinity;
      this.expire();
      if (this.waiters.length > 0) this.arm(Math.min(...this.waiters.map((w) => w.deadline)));
    }, Math.max(0, deadline - this.now()));
    this.timer.unref();
  }
}
