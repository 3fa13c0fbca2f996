const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-11-30 14:05:09` in the viewer's time zone; '—' for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const hourMinute = (iso: string) => {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 1000) / 10} %`);

/** A `datetime-local` input's value as an ISO instant (its time zone is the viewer's); undefined when empty. */
export const localToIso = (value: string) => (value ? new Date(value).toISOString() : undefined);

/** An ISO instant as a `datetime-local` value in the viewer's time zone. */
export function isoToLocal(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const TEST_EVENT_NAME = 'switchyard:test';
