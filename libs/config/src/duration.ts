/** Parses durations such as `250ms`, `10s`, `1m`, `1h` (a bare number is milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration (use a number with ms, s, m, h or d, e.g. 1m)`);
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(value * factor);
}

/** Parses a comma-separated retry schedule such as `1m,5m,15m,1h` into delays in milliseconds. */
export function parseSchedule(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('the schedule is empty (expected e.g. 1m,5m,15m,1h)');
  return parts.map(parseDuration);
}

/** Parses byte sizes such as `256KiB`, `1MiB`, `512` into bytes. */
export function parseBytes(text: string): number {
  const match = /^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/i.exec(text);
  if (!match) throw new Error(`"${text}" is not a size (use e.g. 256KiB)`);
  const unit = (match[2] ?? 'B').toLowerCase();
  const factor: Record<string, number> = { b: 1, kib: 1024, kb: 1000, mib: 1024 ** 2, mb: 1000 ** 2, gib: 1024 ** 3, gb: 1000 ** 3 };
  return Number(match[1]) * factor[unit]!;
}
