/** The slice of `pg` the bench uses. */
export interface PgPool {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
  end(): Promise<void>;
}

export function pgPool(connectionString: string, max: number, schema?: string): PgPool {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Pool } = require('pg') as { Pool: new (options: Record<string, unknown>) => PgPool };
  return new Pool({ connectionString, max, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
}
