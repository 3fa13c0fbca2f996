import { randomUUID } from 'node:crypto';
import { ClaimStore, DedupeClient } from '@switchyard/dedupe';
import { testDatabase } from '../test/support/database';
import { TestStack } from '../test/support/stack';

async function main() {
  const db = await testDatabase('claimlat');
  const store = new ClaimStore(db.ds, 86_400_000, 30_000);
  const t: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    await store.claim({ key: randomUUID(), clinicId: 'c', eventId: randomUUID(), leaseMs: 0 });
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  console.log('store.claim p50', t[150].toFixed(2), 'p90', t[270].toFixed(2));
  const t2: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    await db.ds.query('INSERT INTO idempotency_claims (key, clinic_id, event_id, state, token, lease_until, expires_at) VALUES ($1,$2,$3,$4,$5,now(),now()) ON CONFLICT DO NOTHING', [randomUUID(), 'c', randomUUID(), 'pending', 't']);
    t2.push(performance.now() - t0);
  }
  t2.sort((a, b) => a - b);
  console.log('plain insert p50', t2[150].toFixed(2), 'p90', t2[270].toFixed(2));
  await db.drop();
  const stack = await TestStack.start('claimgrpc', { LOG_LEVEL: 'warn' }, ['dedupe']);
  const client = new DedupeClient(stack.config.DEDUPE_GRPC_URL, 2000);
  const t3: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    await client.claim({ key: randomUUID(), clinicId: 'c', eventId: randomUUID(), leaseMs: 0 });
    t3.push(performance.now() - t0);
  }
  t3.sort((a, b) => a - b);
  console.log('grpc claim p50', t3[150].toFixed(2), 'p90', t3[270].toFixed(2));
  client.close(); await stack.stop(); process.exit(0);
}
main();
