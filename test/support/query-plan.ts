import type { DataSource } from 'typeorm';

export interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/**
 * Runs `call` against a DataSource that records the statements it is sent, then the first of them again under
 * EXPLAIN ANALYZE: what `call` answered, and the plan of the statement behind it.
 */
export async function plannedCall<T>(ds: DataSource, call: (recording: DataSource) => Promise<T>): Promise<{ answer: T; plan: PlanNode }> {
  const sent: Array<[string, unknown[]]> = [];
  const recording = { query: (sql: string, params: unknown[]) => (sent.push([sql, params]), ds.query(sql, params)) } as unknown as DataSource;
  const answer = await call(recording);
  const [sql, params] = sent[0]!;
  const [{ 'QUERY PLAN': [{ Plan }] }] = await ds.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
  return { answer, plan: Plan as PlanNode };
}

/** Rows a plan's scans read: returned by a scan node, or passed over by its filter, in every loop. */
export function rowsRead(node: PlanNode): number {
  const own = /Scan/.test(node['Node Type']) ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, p) => sum + rowsRead(p), 0);
}
