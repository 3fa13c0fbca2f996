/**
 * Baseline: a bare node http handler doing only what the Nimbus guide's Express example does — parse
 * the JSON body, check the X-API-Key, answer 200 `{received:true}`. Keys come from BENCH_KEYS (comma-separated).
 */
import { createServer } from 'node:http';

const keys = new Set((process.env.BENCH_KEYS ?? '').split(',').filter(Boolean));

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || !keys.has(key)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Unauthorized"}');
      return;
    }
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid json"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.send?.({ type: 'ready', port: addr.port });
});
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stop') process.exit(0);
});
// The bench is gone (killed, interrupted): nothing is left to serve.
process.on('disconnect', () => process.exit(0));
