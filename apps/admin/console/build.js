#!/usr/bin/env node
// Builds the console (apps/admin/console/src) into dist/console: one script, one stylesheet, the page.
// esbuild bundles the TypeScript/JSX (Preact) and the CSS; no CDN, no web fonts, no inline code, so the
// page works offline and under a strict Content-Security-Policy. Part of `npm run build` (and so of `npm start`).
'use strict';
const { build } = require('esbuild');
const { copyFileSync, mkdirSync } = require('node:fs');
const { join, resolve } = require('node:path');

const src = join(__dirname, 'src');
const DEFAULT_OUT = resolve(__dirname, '../../../dist/console');

/** Builds into `outDir` (default dist/console); resolves with the files written. */
async function buildConsole(outDir = DEFAULT_OUT) {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(src, 'main.tsx'), 'app-style': join(src, 'app.css') },
    outdir: outDir,
    entryNames: '[name]',
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  // esbuild names a CSS entry after its key: app-style.css → app.css (the page links /console/app.css).
  require('node:fs').renameSync(join(outDir, 'app-style.css'), join(outDir, 'app.css'));
  copyFileSync(join(src, 'index.html'), join(outDir, 'index.html'));
  return ['index.html', 'app.js', 'app.css'].map((f) => join(outDir, f));
}

module.exports = { buildConsole };

if (require.main === module) {
  const t0 = Date.now();
  buildConsole(process.argv[2] ? resolve(process.argv[2]) : undefined).then(
    (files) => console.log(`console built in ${Date.now() - t0} ms: ${files.map((f) => f.replace(`${process.cwd()}/`, '')).join(', ')}`),
    (err) => {
      console.error(`console build failed: ${err.message}`);
      process.exit(1);
    },
  );
}
