import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Page } from '../api';

/** Loads data for a view: `data` (last good answer), `error` (a message), `reload()`; re-runs when `deps` change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(null)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/**
 * Runs an action (a button's): `busy` while it runs, its error message, and what it answered. Each run
 * starts with neither: a success notice of the run before must not stand beside (or for) this run's failure.
 */
export function useAction<A extends unknown[], T>(run: (...args: A) => Promise<T>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<T | undefined>(undefined);
  const go = async (...args: A): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setResult(undefined);
    try {
      const r = await run(...args);
      setResult(() => r);
      return r;
    } catch (e) {
      setError((e as Error).message);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { go, busy, error, result, reset: () => (setResult(undefined), setError(null)) };
}

/**
 * A list read a page at a time (`load.go(null)` the first page, `load.go(cursor)` the next), read again whenever
 * `key` changes (the filters, the clinic). Loads can overlap (a refresh, then other filters): only the latest
 * shows its answer or its error, an earlier one answering late is dropped, and a new key's list starts empty,
 * so rows the filters in force do not match never show. `onReplaced` runs whenever the rows are replaced rather
 * than added to (a selection of them is then void).
 */
export function usePages<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>, key: unknown, onReplaced: () => void = () => undefined) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const latest = useRef(0);
  const load = useAction(async (from: string | null) => {
    const mine = ++latest.current;
    try {
      const page = await fetchPage(from);
      if (mine === latest.current) {
        setItems((prev) => (from ? [...prev, ...page.items] : page.items));
        setCursor(page.next_cursor);
        if (!from) onReplaced();
      }
      return page;
    } catch (err) {
      if (mine === latest.current) throw err;
      return undefined;
    }
  });
  useEffect(() => {
    setItems([]);
    setCursor(null);
    onReplaced();
    void load.go(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return { items, cursor, load };
}
