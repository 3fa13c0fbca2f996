import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

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
 * For loads that can overlap (a refresh, then other filters): `begin()` marks a load, `isLatest(mark)` says
 * whether no load began since. Only the latest may show its answer or its error; an earlier one that
 * answers late is dropped (it showed what the filters in force do not match).
 */
export function useLatestLoad() {
  const latest = useRef(0);
  return { begin: () => ++latest.current, isLatest: (mark: number) => mark === latest.current };
}
