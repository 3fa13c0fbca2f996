#!/usr/bin/env node
// Generates the TypeScript for proto/ into libs/contracts/src/generated with buf + ts-proto.
// `--check` regenerates into a scratch folder and fails when the committed files differ.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'libs/contracts/src/generated');
const buf = path.join(root, 'node_modules/.bin/buf');

function generate(target) {
  const template = fs.readFileSync(path.join(root, 'buf.gen.yaml'), 'utf8').replace(
    'out: libs/contracts/src/generated',
    `out: ${target}`,
  );
  execFileSync(buf, ['generate', '--template', template], { cwd: root, stdio: 'inherit' });
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

if (process.argv.includes('--check')) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-proto-'));
  try {
    generate(scratch);
    const expected = listFiles(scratch);
    const actual = listFiles(outDir);
    const differing = [...new Set([...expected, ...actual])].filter((f) => {
      const a = path.join(scratch, f);
      const b = path.join(outDir, f);
      return !fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b));
    });
    if (differing.length) {
      console.error(`proto:check: generated code is stale (${differing.join(', ')}); run \`npm run proto:gen\` and commit.`);
      process.exit(1);
    }
    console.log(`proto:check: ${expected.length} generated file(s) up to date`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
} else {
  fs.rmSync(outDir, { recursive: true, force: true });
  generate(path.relative(root, outDir));
  console.log(`proto:gen: wrote ${listFiles(outDir).join(', ')}`);
}
