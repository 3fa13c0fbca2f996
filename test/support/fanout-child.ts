/**
 * Fan-out in a child process of its own, so a test can `kill -9` it mid-delivery. The parent passes the
 * stack's already-validated config as JSON in SWITCHYARD_TEST_CONFIG; "ready" on stdout means started.
 * Run with: node -r @swc-node/register test/support/fanout-child.ts
 */
import type { AppConfig } from '@switchyard/config';
import { startFanout } from '../../apps/fanout/src/main';

const config = JSON.parse(process.env.SWITCHYARD_TEST_CONFIG ?? '{}') as AppConfig;
startFanout(config).then(
  () => process.stdout.write('ready\n'),
  (err) => {
    process.stderr.write(`fan-out child failed to start: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
