#!/usr/bin/env node
'use strict';
/**
 * Installs Kubernetes' own schemas — the `kubernetes-models` packages, generated from the Kubernetes
 * OpenAPI of one release each, and `@kubernetes-models/prometheus-operator` for ServiceMonitor and
 * PrometheusRule — into `.tools/` (gitignored) from the npm registry, and prints the directory.
 *
 * They are pinned by scripts/tools/k8s-schemas/package-lock.json and installed apart from the root
 * package (kubernetes-models 5 declares Node >= 22 although it runs on 20; in the root it would break
 * `npm ci --engine-strict`). The directory is named after the lock's hash, so a changed lock installs
 * afresh; npm's cache makes a second install offline. validate.mjs is copied in on every call.
 *
 *   node scripts/tools/fetch-k8s-schemas.js          # prints the directory holding validate.mjs
 *   require('./scripts/tools/fetch-k8s-schemas').ensureK8sSchemas()  → directory
 */
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCE = path.join(__dirname, 'k8s-schemas');
const FILES = ['package.json', 'package-lock.json'];

function ensureK8sSchemas() {
  const hash = createHash('sha256');
  for (const f of FILES) hash.update(fs.readFileSync(path.join(SOURCE, f)));
  const dir = path.join(ROOT, '.tools', `k8s-schemas-${hash.digest('hex').slice(0, 12)}`);
  if (!fs.existsSync(path.join(dir, 'node_modules', '.installed'))) {
    const work = `${dir}.${process.pid}`;
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    for (const f of FILES) fs.copyFileSync(path.join(SOURCE, f), path.join(work, f));
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--engine-strict=false', '--loglevel=error'], {
      cwd: work,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    fs.writeFileSync(path.join(work, 'node_modules', '.installed'), new Date().toISOString());
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(work, dir); // a concurrent caller sees either nothing or a whole install
  }
  fs.copyFileSync(path.join(SOURCE, 'validate.mjs'), path.join(dir, 'validate.mjs'));
  return dir;
}

module.exports = { ensureK8sSchemas };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureK8sSchemas()}\n`);
  } catch (e) {
    process.stderr.write(`fetch-k8s-schemas: ${e.message}\n`);
    process.exit(1);
  }
}
