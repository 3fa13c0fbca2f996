#!/usr/bin/env node
/**
 * `npm run demo`: onboards a demo clinic against the running gateway, starts a local receiver, sends the
 * Nimbus guide's three example events and prints what the receiver got, signatures verified.
 * The gateway must allow a loopback receiver: start it with ALLOW_INSECURE_SUBSCRIBER_URLS=true.
 */
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadConfigOrExit } from '@switchyard/config';
import { EVENT_EXAMPLES } from '@switchyard/contracts';
import { verifySignature } from '@switchyard/delivery';

const config = loadConfigOrExit();
const ingress = process.env.DEMO_INGRESS_URL ?? `http://127.0.0.1:${config.INGRESS_PORT}`;
const admin = process.env.DEMO_ADMIN_URL ?? `http://127.0.0.1:${config.ADMIN_PORT}`;
const fixtures = Object.values(EVENT_EXAMPLES).map((example) => JSON.stringify(example, null, 2));

async function call(base: string, method: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).catch(
    (err: Error) => {
      throw new Error(`cannot reach ${base} (${err.message}); is the gateway running? (npm start)`);
    },
  );
  const json = (await res.json()) as any;
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function main() {
  let secret = '';
  const received: string[] = [];
  let done: () => void;
  const allArrived = new Promise<void>((r) => (done = r));
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const valid = verifySignature(secret, { id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']) }, body);
      const event = JSON.parse(body);
      received.push(event.type);
      console.log(`receiver ← ${event.type}  subject=${event.subject}  webhook-id=${req.headers['webhook-id']}  signature ${valid ? 'VALID' : 'INVALID'}`);
      console.log(`           data: ${JSON.stringify(event.data).slice(0, 120)}…`);
      res.writeHead(200).end('{"received":true}');
      if (received.length === fixtures.length) done();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/nimbus`;

  const auth = { authorization: `Bearer ${config.ADMIN_TOKEN}` };
  const clinic = await call(admin, 'POST', '/admin/clinics', { name: `Demo clinic ${new Date().toISOString()}` }, auth);
  console.log(`clinic ${clinic.id} created; its API key (shown once): ${clinic.api_key.slice(0, 8)}…`);
  const webhook = await call(admin, 'POST', '/api/external/webhook', { clinic_id: clinic.id, webhook_url: receiverUrl }, { 'x-api-key': clinic.api_key }).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n  A loopback receiver needs the gateway started with ALLOW_INSECURE_SUBSCRIBER_URLS=true.`);
    },
  );
  secret = webhook.data.secret;
  console.log(`subscriber ${webhook.data.webhook_id} registered for ${receiverUrl}`);

  for (const body of fixtures) {
    const res = await fetch(`${ingress}/webhooks/nimbus`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': clinic.api_key }, body });
    console.log(`nimbus → ${JSON.parse(body).event_name}: ${res.status} ${await res.text()}`);
  }
  const timeout = setTimeout(() => {
    console.error(`only ${received.length} of ${fixtures.length} events arrived within 15 s`);
    process.exit(1);
  }, 15_000);
  await allArrived;
  clearTimeout(timeout);
  console.log(`all ${fixtures.length} events delivered with valid signatures`);
  receiver.close();
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
