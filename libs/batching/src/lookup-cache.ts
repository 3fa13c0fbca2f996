/**
 * The answers of an asynchronous lookup, kept per key for `ttlMs`. Callers that ask while a lookup runs
 * share it; a lookup that fails is forgotten at once, so the next caller asks again (an outage is never
 * cached). Bounded: when full, the entry loaded longest ago goes.
 */
export class LookupCache<K, V> {
  private readonly entries = new Map<K, { expiresAt: number; value: Promise<V> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: K, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now) return cached.value;
    const entry = { expiresAt: now + this.ttlMs, value: load() };
    entry.value.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    return entry.value;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
