/**
 * Runs one Switchyard app in this process, the way its `main.ts` does (`startX(loadConfig())`), and
 * talks to the bench over IPC: sends `ready` once started, stops cleanly on `stop` (so a `--cpu-prof`
 * profile gets written on exit), runs a full GC on `gc` and answers `gc-done`; with `BENCH_ALLOC_PROF` it
 * also profiles allocations (see startAllocationProfile).
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

/**
 * With BENCH_ALLOC_PROF naming this app: V8's sampling heap profiler from `ready` to `stop`, counting every
 * sampled allocation, including the objects GC collected since (what a scavenge costs is what was
 * allocated, not what is still alive); written as a .heapprofile (Chrome DevTools) next to the CPU profiles.
 * With BENCH_ALLOC_PROF_PROMOTED=1 it leaves out what scavenges collected: what is left is what survived into
 * the old space (promoted; what makes scavenges slow and full GCs come), whether or not a full GC took it since.
 */
async function startAllocationProfile(app: string): Promise<(() => Promise<void>) | null> {
  if (!(process.env.BENCH_ALLOC_PROF ?? '').split(',').includes(app)) return null;
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  const promotedOnly = process.env.BENCH_ALLOC_PROF_PROMOTED === '1';
  await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promotedOnly });
  return async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(`${process.env.BENCH_PROF_DIR ?? '.'}/${app}-${process.pid}.heapprofile`, JSON.stringify(profile));
  };
}

const app = process.argv[2] ?? '';
start(app).then(
  async (handle) => {
    const stopProfile = await startAllocationProfile(app);
    process.send?.({ type: 'ready' });
    const stop = () =>
      // A profile that cannot be written does not keep the app from closing.
      Promise.resolve(stopProfile?.())
        .catch(() => undefined)
        .then(() => handle.close())
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
