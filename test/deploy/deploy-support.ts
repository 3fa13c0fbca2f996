/**
 * Shared by the deploy specs: the repository root, the config contract (libs/config) as the source
 * of truth for variable names and default ports, and small YAML helpers.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '@switchyard/config';

export const repoRoot = resolve(__dirname, '..', '..');
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);

/** The config with every default applied: the numbers the deploy files must agree with. */
export const defaults = loadConfig({});
/** Every variable libs/config reads (all have defaults, so all are keys of the loaded object). */
export const configKeys: ReadonlySet<string> = new Set(Object.keys(defaults));

/** A variable a deploy file may set: one of libs/config's, or a standard OpenTelemetry one. */
export const isKnownEnvName = (name: string): boolean => configKeys.has(name) || /^OTEL_[A-Z0-9_]+$/.test(name);

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function readYamlFile(relPath: string): Obj {
  // merge: true resolves `<<: *anchor` the way docker compose does.
  return parse(readFileSync(repoPath(relPath), 'utf8'), { merge: true }) as Obj;
}

export function parseYamlStream(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`invalid YAML in rendered output: ${doc.errors[0].message}`);
      return doc.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null && typeof o === 'object');
}

/**
 * Ports of libs/config per long-running app: the HTTP one with /healthz, /readyz and /metrics (port name
 * "http" in the chart), ingress's public webhook port and dedupe's gRPC one.
 */
export const appPorts = {
  ingress: { http: defaults.INGRESS_OPS_PORT, httpVar: 'INGRESS_OPS_PORT', webhooks: defaults.INGRESS_PORT },
  admin: { http: defaults.ADMIN_PORT, httpVar: 'ADMIN_PORT' },
  dedupe: { http: defaults.DEDUPE_HTTP_PORT, httpVar: 'DEDUPE_HTTP_PORT', grpc: defaults.DEDUPE_GRPC_PORT },
  fanout: { http: defaults.FANOUT_HTTP_PORT, httpVar: 'FANOUT_HTTP_PORT' },
} as const;
export type AppName = keyof typeof appPorts;
export const apps = Object.keys(appPorts) as AppName[];
