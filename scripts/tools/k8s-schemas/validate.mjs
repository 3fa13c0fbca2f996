#!/usr/bin/env node
/**
 * Validates Kubernetes objects against Kubernetes' own schemas for one release, two ways:
 *  - schema: `new Kind(obj).validate()` of `kubernetes-models` (JSON Schema from the Kubernetes OpenAPI of
 *    that release; `@kubernetes-models/prometheus-operator` for ServiceMonitor and PrometheusRule): wrong
 *    types, missing required fields, bad enum values, a kind the release does not serve;
 *  - fields: the same packages' TypeScript types, with each object as an object literal of its kind's
 *    interface, so the compiler's excess-property check names every field the schema does not know at any
 *    depth (`imagePullPolicyy`, `httpGet.prot`) — JSON Schema here allows unknown fields, the API server
 *    drops or rejects them.
 *
 * Installed by scripts/tools/fetch-k8s-schemas.js next to its node_modules; run there:
 *   echo '{"kubernetes":"1.27","sets":{"default values":[…objects]}}' | node .tools/k8s-schemas-<hash>/validate.mjs
 * Prints {"kubernetes","checked":{"<set>":["Kind/name",…]},"errors":[{"set","object","check","message"}]}
 * and exits 0; exits 2 when it cannot run (bad input, unknown release). Several sets go through one
 * compiler run (a few seconds each).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Kubernetes release → the package generated from its OpenAPI (see package.json beside this file). */
const RELEASES = { '1.27': 'kubernetes-models-1.27', '1.36': 'kubernetes-models' };
const CRD_GROUPS = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

/** The module of a kind: `<pkg>/<group>/<version>/<Kind>`, core kinds under `<pkg>/v1/<Kind>`. */
function modulePath(release, apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const pkg = CRD_GROUPS[group] ?? RELEASES[release];
  return `${pkg}/${apiVersion}/${kind}`;
}

const label = (o) => `${o?.kind}/${o?.metadata?.name}`;

/** objects: [{ set, object }] */
async function schemaErrors(release, objects) {
  const errors = [];
  for (const { set, object: o } of objects) {
    let Model;
    try {
      Model = (await import(modulePath(release, o.apiVersion, o.kind)))[o.kind];
    } catch {
      Model = undefined;
    }
    if (typeof Model !== 'function') {
      errors.push({ set, object: label(o), check: 'schema', message: `${o.apiVersion} ${o.kind} does not exist in Kubernetes ${release}` });
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      for (const line of String(e.message).split(/,\s*(?=data)|\n/)) {
        errors.push({ set, object: label(o), check: 'schema', message: line.trim() });
      }
    }
  }
  return errors;
}

function fieldErrors(release, objects) {
  const dir = mkdtempSync(join(HERE, '.check-'));
  try {
    const lines = [];
    const owner = []; // line number (0-based) → object index
    objects.forEach(({ object: o }, i) => {
      lines.push(`import type { I${o.kind} as T${i} } from '${modulePath(release, o.apiVersion, o.kind)}';`);
      owner.push(i);
    });
    objects.forEach(({ object: o }, i) => {
      const text = `export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};`.split('\n');
      for (const l of text) {
        lines.push(l);
        owner.push(i);
      }
    });
    const file = join(dir, 'objects.ts');
    writeFileSync(file, lines.join('\n'));
    const program = ts.createProgram([file], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    const errors = [];
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      if (!d.file || d.file.fileName !== file) {
        errors.push({ set: '(all)', object: '(types)', check: 'fields', message });
        continue;
      }
      const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      const { set, object: o } = objects[owner[line]];
      const where = lines[line].trim();
      errors.push({ set, object: label(o), check: 'fields', message: `${message} (at ${where.slice(0, 120)})` });
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const release = input.kubernetes;
  if (!RELEASES[release]) throw new Error(`no schemas for Kubernetes ${release}; have ${Object.keys(RELEASES).join(', ')}`);
  const sets = input.sets ?? {};
  const objects = [];
  for (const [set, list] of Object.entries(sets)) {
    if (!Array.isArray(list)) throw new Error(`sets.${set}: expected an array of objects`);
    for (const object of list) objects.push({ set, object });
  }
  if (objects.length === 0) throw new Error('no objects to validate');
  const errors = [...(await schemaErrors(release, objects)), ...fieldErrors(release, objects)];
  const checked = Object.fromEntries(Object.entries(sets).map(([set, list]) => [set, list.map(label)]));
  process.stdout.write(JSON.stringify({ kubernetes: release, checked, errors }));
}

main().catch((e) => {
  process.stderr.write(`validate.mjs: ${e.stack ?? e.message}\n`);
  process.exit(2);
});
