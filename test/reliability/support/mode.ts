/**
 * `npm run test:reliability` sets RELIABILITY_FULL=1: every scenario at full size. Inside `npm test` the
 * cheap scenarios run at a small size and the slow ones are skipped. RELIABILITY_EVENTS scales the load.
 */
export const FULL = process.env.RELIABILITY_FULL === '1';

/** `short` events inside `npm test`, `full` (or RELIABILITY_EVENTS) in the reliability run. */
export function scaled(short: number, full: number): number {
  if (!FULL) return short;
  const n = Number(process.env.RELIABILITY_EVENTS);
  return Number.isInteger(n) && n > 0 ? n : full;
}

/** `it` in the full run, `it.skip` inside `npm test`. */
export const itFull: jest.It = FULL ? it : it.skip;

/** Per-test timeout: the full run moves thousands of events through a shared two-core machine. */
export const FULL_TIMEOUT = FULL ? 900_000 : 60_000;
