#!/usr/bin/env node
/**
 * Lints an OpenAPI document with Redocly's `recommended` rules (@redocly/openapi-core, offline) and prints
 * the problems as JSON: [{severity, rule, message, at}]. The package is ESM-only, which jest's CommonJS
 * runtime cannot load on Node 20, so test/admin/openapi-lint.spec.ts runs this as a child process.
 *   node scripts/tools/openapi-lint.mjs < openapi.json
 */
import { createConfig, lintFromString } from '@redocly/openapi-core';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const source = Buffer.concat(chunks).toString('utf8');
const config = await createConfig({ extends: ['recommended'] });
const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
process.stdout.write(
  JSON.stringify(problems.map((p) => ({ severity: p.severity, rule: p.ruleId, message: p.message, at: p.location?.[0]?.pointer }))),
);
