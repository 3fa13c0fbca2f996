/** Promises under way, as a set or as the keys of a map (a map may carry what each is about). */
export interface Pending {
  readonly size: number;
  keys(): Iterable<Promise<unknown>>;
}

/**
 * Resolves true once `pending` is empty — counting promises added while it waits, which a snapshot of it
 * would miss — or false at `deadline` (performance.now() clock). Each promise must leave `pending` as it
 * settles. For a shutdown that waits for work under way, some of which starts more work as it ends.
 */
export async function settledBy(pending: Pending, deadline: number): Promise<boolean> {
  while (pending.size > 0) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const all = Promise.allSettled(pending.keys());
    if (left === Infinity) {
      await all;
      continue;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((r) => (timer = setTimeout(r, left)));
    await Promise.race([all, late]).finally(() => clearTimeout(timer));
  }
  return true;
}

/** Work under way (statements, requests) that a shutdown waits for: `track` each, `settled` waits. */
export class PendingWork implements Pending {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  keys(): Iterable<Promise<unknown>> {
    return this.pending.keys();
  }

  /** Counts `p` as under way until it settles; returns it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  /** See settledBy: true once nothing is under way, false at `deadline` (performance.now() clock). */
  settled(deadline = Infinity): Promise<boolean> {
    return settledBy(this, deadline);
  }
}
