import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the browser tests write their screenshots: docs/console (committed, linked from docs/CONSOLE.md)
 * when run as `npm run console:screenshots`, else a temporary folder, so a plain `npm test` leaves the
 * working tree as it was (every run's pixels differ a little: times, ids).
 */
export function screenshotDir(): string {
  return process.env.CONSOLE_SCREENSHOTS === '1' ? join(__dirname, '../../../docs/console') : join(tmpdir(), 'switchyard-console-screenshots');
}
