import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The console's policy: scripts, styles and everything else only from this origin's own files — no
 * inline script or style, no eval, no other origin (it works offline), no framing, no plugins. Trusted
 * Types are required for script sinks, so no code path can feed a string to innerHTML and friends.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types none',
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** The built files (`npm run build` → dist/console) and their types; `index.html` is served at /console. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'application/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The paths the console is served at (no API routes: not in the OpenAPI document). */
export const CONSOLE_ROUTES = Object.keys(ASSETS);

/** The repository (or image) root: the nearest folder above `from` holding package.json. */
function rootFrom(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Where `npm run build` writes the console (apps/admin/console/build.js). */
export const CONSOLE_DIST = join(rootFrom(__dirname), 'dist', 'console');

/**
 * Serves the console at GET /console from `dir`, with its security headers on every answer. Files are read
 * at the first request and kept; without a build the page answers 503 saying how to build it.
 */
export function registerConsoleRoutes(fastify: FastifyInstance, dir = CONSOLE_DIST): void {
  const cache = new Map<string, Buffer>();
  const read = (file: string): Buffer | null => {
    const hit = cache.get(file);
    if (hit) return hit;
    try {
      const body = readFileSync(join(dir, file));
      cache.set(file, body);
      return body;
    } catch {
      return null;
    }
  };
  for (const [path, asset] of Object.entries(ASSETS)) {
    fastify.get(path, async (_req, reply: FastifyReply) => {
      void reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store');
      const body = read(asset.file);
      if (!body) {
        return reply.code(503).type('application/json').send({ error: { code: 'console_not_built', message: 'the console is not built: run `npm run build`' } });
      }
      return reply.type(asset.type).send(body);
    });
  }
}
