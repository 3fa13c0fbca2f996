import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Finds `proto/` next to the sources (ts) or copied into `dist/` by the build (js). */
function protoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'dedupe/v1/dedupe.proto'))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('proto/ not found next to the code; run the build (it copies proto/ into dist/)');
}

export const PROTO_ROOT = protoRoot();
export const DEDUPE_PROTO_PATH = join(PROTO_ROOT, 'dedupe/v1/dedupe.proto');
export const HEALTH_PROTO_PATH = join(PROTO_ROOT, 'grpc/health/v1/health.proto');
