/**
 * How long an answer is kept: a fixed time, or one asked of the answer at each read (so it may depend on
 * the answer and change over time, e.g. longer while every change is announced). With a function, a
 * lookup still running is shared whatever its age.
 */
export type KeepFor<V> = number | ((value: V) => number);

interface Entry<V> {
  loadedAt: number;
  value: Promise<V>;
  /** Set once the lookup succeeded. */
  answer?: { value: V };
}

/**
 * The answers of an asynchronous lookup, kept per key for `ttlMs`. Callers that ask while a lookup runs
 * share it; a lookup that fails is forgotten at once, so the next caller asks again (an outage is never
 * cached). Bounded: when full, the entry loaded longest ago goes.
 */
export class LookupCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly ttlMs: KeepFor<V>,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: K, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && now - cached.loadedAt < this.keepFor(cached)) return cached.value;
    const entry: Entry<V> = { loadedAt: now, value: load() };
    entry.value.then(
      (value) => (entry.answer = { value }),
      () => this.entries.get(key) === entry && this.entries.delete(key),
    );
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    return entry.value;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops the answers that pass `test`, and every lookup still running (its answer may predate what prompted this). */
  forget(test: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (!entry.answer || test(entry.answer.value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  private keepFor(entry: Entry<V>): number {
    if (typeof this.ttlMs === 'number') return this.ttlMs;
    return entry.answer ? this.ttlMs(entry.answer.value) : Infinity;
  }
}
