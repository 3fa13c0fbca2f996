/**
 * Series of one panel share its axis, so they must be in the same unit.
 *
 * A panel whose unit is seconds shows every series as a duration: a series that is not one (a mean batch
 * size, a rate of errors) must carry its own unit in an override, or Grafana prints "12 s" for a batch of
 * twelve, and scales the latency lines, milliseconds high, against it until they lie flat on the axis.
 * Durations are what Switchyard exports in seconds: a quantile of a `_seconds` histogram, a `_seconds_sum`
 * over its count, or a `_seconds` gauge; a rate of a `_seconds_count` is a number per second, not a duration.
 *
 * Likewise a panel does not draw a rate() (per second) beside an increase() (per $__rate_interval, a window
 * that grows as the dashboard zooms out) on one axis: one dead letter a minute read as 1, 5 or 60 beside
 * retries read as 0.017, depending on the zoom.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS_DIR, dashboardFiles, metricNamesIn } from './support/monitoring-files';

interface Target {
  expr: string;
  legendFormat?: string;
  refId: string;
}

function isDuration(expr: string): boolean {
  const names = metricNamesIn(expr);
  return (
    (expr.includes('histogram_quantile') && names.some((n) => n.endsWith('_seconds_bucket'))) ||
    names.some((n) => n.endsWith('_seconds_sum') || n.endsWith('_seconds'))
  );
}

/** The unit an override gives a target's series (matched by its legend or its query's refId), if any. */
function overriddenUnit(panel: any, target: Target): string | undefined {
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const { id, options } = o.matcher ?? {};
    const hit = (id === 'byName' && options === target.legendFormat) || (id === 'byFrameRefID' && options === target.refId);
    const unit = hit ? (o.properties ?? []).find((p: any) => p.id === 'unit')?.value : undefined;
    if (unit) return unit;
  }
  return undefined;
}

function panels(file: string): any[] {
  const out: any[] = [];
  const walk = (ps: any[] = []) => ps.forEach((p) => (out.push(p), walk(p.panels)));
  walk(JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')).panels);
  return out;
}

/** Whether a query counts over its window (increase) rather than per second (rate, irate). */
function isIncrease(expr: string): boolean {
  return /\bincrease\s*\(/.test(expr);
}

describe('dashboards: series in a seconds panel are durations, or have their own unit', () => {
  it('tells durations from other series', () => {
    expect(isDuration('histogram_quantile(0.99, sum by (le) (rate(switchyard_x_seconds_bucket[5m])))')).toBe(true);
    expect(isDuration('sum(rate(switchyard_x_seconds_sum[5m])) / sum(rate(switchyard_x_seconds_count[5m]))')).toBe(true);
    expect(isDuration('sum(rate(switchyard_x_seconds_count{outcome="error"}[5m]))')).toBe(false);
    expect(isDuration('sum(rate(switchyard_batch_size_sum[5m])) / sum(rate(switchyard_batch_size_count[5m]))')).toBe(false);
  });

  it('finds seconds panels to check', () => {
    expect(dashboardFiles().flatMap(panels).filter((p) => p.fieldConfig?.defaults?.unit === 's').length).toBeGreaterThan(4);
  });

  it('gives every series of a seconds panel that is not a duration a unit of its own', () => {
    const wrong: string[] = [];
    for (const file of dashboardFiles()) {
      for (const panel of panels(file)) {
        if (panel.fieldConfig?.defaults?.unit !== 's') continue;
        for (const t of (panel.targets ?? []) as Target[]) {
          if (!isDuration(t.expr) && !overriddenUnit(panel, t)) wrong.push(`${file}: ${panel.title}: ${t.legendFormat ?? t.refId}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('draws no rate beside an increase on one axis, unless one of them has a unit of its own', () => {
    expect(isIncrease('sum(increase(switchyard_x_total[$__rate_interval]))')).toBe(true);
    expect(isIncrease('sum(rate(switchyard_x_total[$__rate_interval]))')).toBe(false);
    const wrong: string[] = [];
    for (const file of dashboardFiles()) {
      for (const panel of panels(file)) {
        const targets = ((panel.targets ?? []) as Target[]).filter((t) => !overriddenUnit(panel, t));
        const kinds = new Set(targets.map((t) => isIncrease(t.expr)));
        if (kinds.size > 1) wrong.push(`${file}: ${panel.title}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
