import { mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, ConsoleMessage, Page, chromium as playwright } from 'playwright-core';

// The package's CommonJS build (its typings are written for its ES module build).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chromium = require('@sparticuz/chromium') as { executablePath(): Promise<string> };

/**
 * Flags for a headless Chromium that talks to nothing but the pages it is given: no sandbox (we run as
 * root in a VM), no GPU, /tmp instead of /dev/shm, and no background traffic (updates, sync, metrics,
 * safe browsing, translation). Not @sparticuz/chromium's own `args`: they turn web security off, which
 * would hide the very policy (CSP, same-origin) the console tests check.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--no-first-run',
  '--no-pings',
  '--disable-features=Translate,OptimizationHints,MediaRouter,SafeBrowsing,AutofillServerCommunication',
  '--font-render-hinting=none',
];

/**
 * The Chromium shipped inside the @sparticuz/chromium npm package (so `npm test` needs nothing from the
 * OS but the shared libraries every image here has), unpacked once into the temp folder. Test files
 * run in parallel workers, so the unpacking is serialised with a lock folder: the package itself takes a
 * half-written binary for a finished one.
 */
async function executablePath(): Promise<string> {
  const lock = join(tmpdir(), 'switchyard-chromium.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 2 minutes; remove it if no test is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await chromium.executablePath();
  } finally {
    rmdirSync(lock);
  }
}

export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await executablePath(),
    args: FLAGS,
    headless: true,
    // the fonts that come with the package (unpacked beside the binary), not whatever the OS has
    env: { ...process.env, FONTCONFIG_PATH: join(tmpdir(), 'fonts') },
  });
}

/** Answers the scenarios provoke on purpose (a used link: 401, another clinic's ids: 404) and the favicon. */
const EXPECTED_ERRORS = /favicon\.ico|status of (401|404)/;

/** What went wrong in a page: script errors, console errors (CSP violations land there), failed requests. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() === 'error' && !EXPECTED_ERRORS.test(`${msg.text()} ${msg.location().url ?? ''}`)) problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.type()} ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}
