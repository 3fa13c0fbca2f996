/**
 * Baseline for fan-out: the delivery itself and nothing else. Each event of the request mix is rendered
 * once as a CloudEvent (as fan-out does for its subscribers), then for each of its clinic's subscribers
 * signed (`signatureHeader` of libs/delivery, Standard Webhooks headers) and POSTed with undici to the same
 * receiver, `concurrency` requests in flight — no queue, no database, no JetStream.
 *
 * Driven over IPC by the bench: `{ type: 'prepare', clinics, events, concurrency }` → `prepared` (bodies
 * made), `{ type: 'go' }` → `{ type: 'done', deliveries, failed, seconds }`.
 */
import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { renderForSubscriber } from '@switchyard/contracts';
import { USER_AGENT, signatureHeader } from '@switchyard/delivery';
import { RequestMix } from './lib/payloads';

interface Target {
  url: string;
  secret: string;
}
interface Prepare {
  type: 'prepare';
  clinics: Array<{ id: string; subscribers: Target[] }>;
  events: number;
  concurrency: number;
}

let work: Array<{ id: string; clinicId: string; eventName: string; body: string; targets: Target[] }> = [];
let concurrency = 1;
// As fan-out's guarded dispatcher: an undici Agent, one request per connection, no limit on connections.
const agent = new Agent({ connect: { timeout: 3_000 } });

function prepare(m: Prepare): void {
  const mix = new RequestMix(['unused'], 0);
  concurrency = m.concurrency;
  work = Array.from({ length: m.events }, () => {
    const clinic = m.clinics[Math.floor(Math.random() * m.clinics.length)]!;
    const body = mix.next().body;
    return { id: randomUUID(), clinicId: clinic.id, eventName: (JSON.parse(body) as { event_name: string }).event_name, body, targets: clinic.subscribers };
  });
}

async function deliver(id: string, payload: string, contentType: string, target: Target): Promise<boolean> {
  const timestamp = Math.floor(Date.now() / 1000);
  const url = new URL(target.url);
  const res = await agent.request({
    origin: url.origin,
    path: url.pathname,
    method: 'POST',
    headers: {
      'content-type': contentType,
      'user-agent': USER_AGENT,
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader([target.secret], id, timestamp, payload),
    },
    body: payload,
  });
  await res.body.dump();
  return res.statusCode >= 200 && res.statusCode < 300;
}

async function run(): Promise<{ deliveries: number; failed: number; seconds: number }> {
  const t0 = performance.now();
  // The deliveries in event order, each event rendered once for all its subscribers.
  const queue = work.flatMap((e) => {
    const rendered = renderForSubscriber('cloudevents', { eventId: e.id, clinicId: e.clinicId, eventName: e.eventName, receivedAt: new Date().toISOString(), payload: e.body });
    return e.targets.map((t) => ({ id: e.id, rendered, target: t }));
  });
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queue.length) {
        const d = queue[next++]!;
        const ok = await deliver(d.id, d.rendered.payload, d.rendered.contentType, d.target).catch(() => false);
        if (!ok) failed++;
      }
    }),
  );
  return { deliveries: queue.length, failed, seconds: (performance.now() - t0) / 1000 };
}

process.on('message', (m: { type?: string }) => {
  if (m?.type === 'prepare') {
    prepare(m as Prepare);
    process.send?.({ type: 'prepared' });
  } else if (m?.type === 'go') {
    void run().then((r) => process.send?.({ type: 'done', ...r }));
  } else if (m?.type === 'stop') {
    void agent.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
