import { LookupCache } from './lookup-cache';

describe('LookupCache', () => {
  it('shares one lookup between the callers that ask while it runs, and keeps its answer for the TTL', async () => {
    const cache = new LookupCache<string, number>(60_000);
    let loads = 0;
    const load = () => new Promise<number>((r) => setTimeout(() => r(++loads), 10));
    expect(await Promise.all([cache.get('a', load), cache.get('a', load), cache.get('a', load)])).toEqual([1, 1, 1]);
    expect(await cache.get('a', load)).toBe(1);
    expect(loads).toBe(1);
  });

  it('asks again once the TTL has passed, or after delete and clear', async () => {
    const cache = new LookupCache<string, number>(20);
    let loads = 0;
    const load = async () => ++loads;
    await cache.get('a', load);
    await new Promise((r) => setTimeout(r, 30));
    expect(await cache.get('a', load)).toBe(2);
    cache.delete('a');
    expect(await cache.get('a', load)).toBe(3);
    cache.clear();
    expect(await cache.get('a', load)).toBe(4);
  });

  it('forgets a failed lookup, so the next caller asks again', async () => {
    const cache = new LookupCache<string, number>(60_000);
    await expect(cache.get('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('a', async () => 7)).toBe(7);
  });

  it('drops the entry loaded longest ago when full', async () => {
    const cache = new LookupCache<string, string>(60_000, 2);
    const loaded: string[] = [];
    const load = (k: string) => async () => (loaded.push(k), k);
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('c', load('c')); // a goes
    await cache.get('b', load('b'));
    await cache.get('a', load('a'));
    expect(loaded).toEqual(['a', 'b', 'c', 'a']);
  });

  it('asks a function how long to keep each answer, at every read', async () => {
    let keepMs = 60_000;
    const cache = new LookupCache<string, string>((value) => (value === 'short' ? 0 : keepMs));
    let loads = 0;
    const load = (value: string) => async () => (loads++, value);
    await cache.get('a', load('long'));
    await cache.get('b', load('short'));
    expect(await cache.get('a', load('long'))).toBe('long');
    await cache.get('b', load('short'));
    expect(loads).toBe(3); // b is never kept
    keepMs = 0; // e.g. changes are no longer announced
    await cache.get('a', load('long'));
    expect(loads).toBe(4);
  });

  it('forget drops the answers that pass the test and the lookups still running', async () => {
    const cache = new LookupCache<string, string>(60_000);
    let loads = 0;
    const load = (value: string) => async () => (loads++, value);
    await cache.get('a', load('keep'));
    await cache.get('b', load('drop'));
    let finish!: (v: string) => void;
    const running = cache.get('c', () => new Promise<string>((r) => (finish = r)));
    cache.forget((v) => v === 'drop');
    finish('keep');
    expect(await running).toBe('keep'); // its callers still get the answer, it is just not kept
    loads = 0;
    for (const key of ['a', 'b', 'c']) await cache.get(key, load('keep'));
    expect(loads).toBe(2);
  });
});
