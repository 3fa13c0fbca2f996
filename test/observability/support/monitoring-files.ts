/**
 * The monitoring files the project ships, read the way Grafana and Prometheus read them: the dashboards
 * of deploy/grafana/dashboards (every panel target's query, and the templating variables) and the rule
 * files of deploy/prometheus (every rule's expression). Shared by the metrics contract (npm test) and the
 * Prometheus checks of the ops tier (test/ops).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..', '..');
export const DASHBOARDS_DIR = join(ROOT, 'deploy', 'grafana', 'dashboards');
export const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
export const RULE_TESTS_DIR = join(RULES_DIR, 'tests');

export const dashboardFiles = (): string[] => readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).sort();
export const ruleFiles = (): string[] => readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export interface TemplateVariable {
  name: string;
  /** The variable's own query (e.g. `label_values(metric, label)`), for query variables. */
  query?: string;
  /** What "All" stands for (`allValue`), when the variable offers it. */
  allValue?: string;
  multi: boolean;
}

/** A dashboard's JSON model. */
function dashboard(file: string): any {
  return JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8'));
}

/** Every query of every panel target (rows' nested panels included). */
export function dashboardQueries(file: string): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: any[] = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ dashboard: file, panel: String(p.title ?? p.id), refId: String(t.refId ?? ''), expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard(file).panels);
  return out;
}

export function dashboardVariables(file: string): TemplateVariable[] {
  return (dashboard(file).templating?.list ?? [])
    .filter((v: any) => v.type === 'query')
    .map((v: any) => ({
      name: v.name,
      query: typeof v.query === 'string' ? v.query : v.query?.query,
      allValue: v.includeAll ? (v.allValue ?? undefined) : undefined,
      multi: !!v.multi,
    }));
}

export interface RuleExpr {
  file: string;
  group: string;
  name: string;
  alert: boolean;
  expr: string;
}

export function ruleExprs(file: string): RuleExpr[] {
  const doc = parse(readFileSync(join(RULES_DIR, file), 'utf8')) as { groups: Array<{ name: string; rules: any[] }> };
  return doc.groups.flatMap((g) =>
    g.rules.map((r) => ({ file, group: g.name, name: r.alert ?? r.record, alert: !!r.alert, expr: String(r.expr) })),
  );
}

/** Metric names in a PromQL expression: `switchyard_*` identifiers and `up`, label matchers and strings removed. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/\b(switchyard_[a-zA-Z0-9_]+|up)\b(?!\s*\()/g)) names.add(m[1]!);
  return [...names];
}
