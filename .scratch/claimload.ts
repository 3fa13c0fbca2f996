import { randomUUID } from 'node:crypto';
import { ClaimStore } from '@switchyard/dedupe';
import { testDatabase } from '../test/support/database';

async function main() {
  const db = await testDatabase('claimload');
  const sizes: number[] = [];
  const store = new ClaimStore(db.ds, 86_400_000, 30_000, (n) => sizes.push(n));
  for (const rate of [500, 1000, 2000]) {
    const lat: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = Date.now();
    let i = 0;
    while (Date.now() - t0 < 4000) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      for (; i < due; i++) {
        const s = performance.now();
        pending.push(store.claim({ key: randomUUID(), clinicId: 'c', eventId: randomUUID(), leaseMs: 0 }).then(async (a) => { await store.complete(a.token ? 'x' : 'y', a.token); lat.push(performance.now() - s); }));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
    lat.sort((a, b) => a - b);
    const avgBatch = sizes.reduce((a, b) => a + b, 0) / sizes.length; sizes.length = 0;
    console.log(`rate ${rate}/s: claim+complete p50 ${lat[lat.length >> 1].toFixed(1)} ms p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(1)} ms, avg batch ${avgBatch.toFixed(1)}`);
  }
  await db.drop();
  process.exit(0);
}
main();
