'use strict';
/**
 * Demo subscriber for `docker compose up`: accepts every POST, verifies the Standard Webhooks
 * signature when it knows the secret, and prints one JSON line per delivery. No dependencies, so it
 * runs from the Switchyard image:  node deploy/demo-receiver/receiver.js
 *
 *   PORT                 listen port (default 9000)
 *   WEBHOOK_SECRET       whsec_… secret of the subscriber, to verify `webhook-signature` (optional)
 *   FAIL_RATE            0..1, share of deliveries answered 500, to watch retries (default 0)
 *
 * GET /healthz answers 200; GET /received lists the last 100 deliveries.
 */
const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.env.PORT || 9000);
const secret = process.env.WEBHOOK_SECRET || '';
const failRate = Number(process.env.FAIL_RATE || 0);
const received = [];

function verify(headers, body) {
  if (!secret) return null;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const expected = crypto.createHmac('sha256', key).update(signed).digest('base64');
  const given = String(headers['webhook-signature'] || '')
    .split(' ')
    .map((s) => s.split(',')[1])
    .filter(Boolean);
  return given.some(
    (sig) => sig.length === expected.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected)),
  );
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return res.writeHead(200).end('ok');
  if (req.method === 'GET' && req.url === '/received') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(received));
  }
  if (req.method !== 'POST') return res.writeHead(405).end();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event;
    try {
      event = JSON.parse(body);
    } catch {
      event = body;
    }
    const fail = Math.random() < failRate;
    const entry = {
      at: new Date().toISOString(),
      path: req.url,
      webhook_id: req.headers['webhook-id'],
      signature_valid: verify(req.headers, body),
      traceparent: req.headers.traceparent,
      answered: fail ? 500 : 204,
      event,
    };
    received.push(entry);
    if (received.length > 100) received.shift();
    process.stdout.write(`${JSON.stringify(entry)}\n`);
    res.writeHead(entry.answered).end();
  });
});

server.listen(port, '0.0.0.0', () => process.stdout.write(`demo receiver listening on :${port}\n`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
