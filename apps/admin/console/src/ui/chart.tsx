import { useEffect, useRef, useState } from 'preact/hooks';
import type { Stats } from '../api';
import { hourMinute } from '../format';

const SERIES = [
  { key: 'succeeded', label: 'delivered' },
  { key: 'waiting', label: 'waiting' },
  { key: 'dead', label: 'dead-lettered' },
  { key: 'parked', label: 'parked' },
  { key: 'cancelled', label: 'cancelled' },
] as const;

const H = 200;
const PAD = { left: 34, right: 8, top: 10, bottom: 22 };

/**
 * Deliveries over time by outcome: one stacked bar per bucket, drawn in SVG with classes only (no inline
 * style, so the page's CSP holds). Each bar has a title with its numbers; the figure's label sums them up.
 * The drawing is as wide as its box (measured), so its text keeps its size on a phone.
 */
export function DeliveryChart({ stats, title }: { stats: Stats; title: string }) {
  const box = useRef<HTMLElement>(null);
  const [W, setW] = useState(720);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => el.clientWidth > 0 && setW(Math.round(el.clientWidth));
    measure();
    const watcher = new ResizeObserver(measure);
    watcher.observe(el);
    return () => watcher.disconnect();
  }, []);
  const totals = SERIES.map((s) => stats.buckets.reduce((n, b) => n + b[s.key], 0));
  const max = Math.max(1, ...stats.buckets.map((b) => b.succeeded + b.waiting + b.dead + b.parked + b.cancelled));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / stats.buckets.length;
  const barW = Math.max(1, slot * 0.78);
  const y = (v: number) => (v / max) * plotH;
  const everyNth = Math.ceil(stats.buckets.length / Math.max(1, Math.floor(plotW / 56)));
  const summary = `${title}: ${SERIES.map((s, i) => `${totals[i]} ${s.label}`).join(', ')}`;
  return (
    <figure class="chart" data-testid="delivery-chart" ref={box}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <line class="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
        <text class="tick" x={PAD.left - 6} y={PAD.top + 8} text-anchor="end">
          {max}
        </text>
        <text class="tick" x={PAD.left - 6} y={H - PAD.bottom} text-anchor="end">
          0
        </text>
        {stats.buckets.map((b, i) => {
          const x = PAD.left + i * slot + (slot - barW) / 2;
          let base = H - PAD.bottom;
          const tip = `${hourMinute(b.start)}: ${SERIES.map((s) => `${b[s.key]} ${s.label}`).join(', ')}`;
          return (
            <g key={b.start}>
              <title>{tip}</title>
              {SERIES.map((s) => {
                const h = y(b[s.key]);
                base -= h;
                return h > 0 ? <rect class={s.key} x={x} y={base} width={barW} height={h} /> : null;
              })}
              {i % everyNth === 0 ? (
                <text class="tick" x={x + barW / 2} y={H - 6} text-anchor="middle">
                  {hourMinute(b.start)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {SERIES.map((s, i) => (
            <li class={s.key}>
              {s.label}: <strong>{totals[i]}</strong>
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
