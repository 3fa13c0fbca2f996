/**
 * Runs one Switchyard app in this process, the way its `main.ts` does (`startX(loadConfig())`), and
 * talks to the bench over IPC: sends `ready` once started, stops cleanly on `stop` (so a `--cpu-prof`
 * profile gets written on exit), runs a full GC on `gc` and answers `gc-done`.
 */
import { AppConfig, loadConfigOrExit } from '@switchyard/config';

type Handle = { close(): Promise<unknown> | unknown };
type Starter = (config: AppConfig) => Promise<Handle>;

/** Only the chosen app's modules are loaded, so its RSS is its own. */
const starters: Record<string, () => Starter> = {
  ingress: () => require('../apps/ingress/src/main').startIngress,
  dedupe: () => require('../apps/dedupe/src/main').startDedupe,
  fanout: () => require('../apps/fanout/src/main').startFanout,
};

async function start(app: string): Promise<Handle> {
  const starter = starters[app];
  if (!starter) throw new Error(`unknown app ${app}; expected ${Object.keys(starters).join(', ')}`);
  return starter()(loadConfigOrExit());
}

const app = process.argv[2] ?? '';
start(app).then(
  (handle) => {
    process.send?.({ type: 'ready' });
    const stop = () =>
      Promise.resolve(handle.close())
        .catch(() => undefined)
        .finally(() => process.exit(0));
    process.on('message', (m: { type?: string }) => {
      if (m?.type === 'stop') void stop();
      // The steady phase asks for a full GC after each quarter of its load (the bench runs apps with
      // --expose-gc), so every app has live-heap figures even when it ran no full GC of its own.
      if (m?.type === 'gc') {
        (globalThis as { gc?: () => void }).gc?.();
        process.send?.({ type: 'gc-done' });
      }
    });
    // The bench is gone (killed, interrupted): stop rather than keep a replica running on its schema.
    process.on('disconnect', () => void stop());
  },
  (err) => {
    process.stderr.write(`${app} failed to start: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
