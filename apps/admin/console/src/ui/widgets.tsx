import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

/**
 * The page's heading; it takes the focus when the page opens, so keyboard and screen reader users start there.
 * It does so in the same task as the render (a layout effect): a plain effect runs after the next frame, so a
 * Tab pressed as soon as the page showed moved the focus on and then lost it to the heading.
 */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1} id="page-title">
      {children}
    </h1>
  );
}

export function Notice({ kind, children }: { kind: 'error' | 'ok' | 'info'; children: ComponentChildren }) {
  return (
    <div class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export const ErrorNotice = ({ error }: { error: string | null | undefined }) => (error ? <Notice kind="error">{error}</Notice> : null);

export function Loading({ what }: { what: string }) {
  return <p class="muted" role="status">Loading {what}…</p>;
}

export const Badge = ({ kind, children }: { kind: string; children: ComponentChildren }) => <span class={`badge ${kind}`}>{children}</span>;

/** A secret shown once: selectable text, with a note that it will not be shown again here. */
export function SecretBox({ label, value, note }: { label: string; value: string; note: string }) {
  return (
    <div class="notice info" role="status">
      <strong>{label}</strong>
      <code class="secret" data-testid="secret">
        {value}
      </code>
      <span class="small">{note}</span>
    </div>
  );
}

export function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={id}>
        {label} {hint ? <span class="hint">{hint}</span> : null}
      </label>
      {children}
    </div>
  );
}

/** A form whose submit runs `onSubmit` in the page (Enter in a field submits it, as usual). */
export function Form({ onSubmit, label, children }: { onSubmit: () => void; label: string; children: ComponentChildren }) {
  return (
    <form
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}

export const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;
export const checked = (e: Event) => (e.currentTarget as HTMLInputElement).checked;

/** How long something lasts, picked from a few durations (in seconds). */
export function DurationSelect({ id, label, value: v, onChange, choices }: { id: string; label: string; value: string; onChange: (v: string) => void; choices: Array<[number, string]> }) {
  return (
    <Field id={id} label={label}>
      <select id={id} value={v} onChange={(e) => onChange(value(e))}>
        {choices.map(([seconds, text]) => (
          <option value={String(seconds)}>{text}</option>
        ))}
      </select>
    </Field>
  );
}

/** The overlap / grace choices of a rotation (0 = the old one stops at once). */
export const ROTATION_CHOICES = (none: string): Array<[number, string]> => [
  [0, none],
  [3_600, '1 hour'],
  [86_400, '24 hours'],
  [604_800, '7 days'],
];
