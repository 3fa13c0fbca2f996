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
});
