/**
 * The fast subscriber: answers 200 at once, counts deliveries and, while recording, the time from the
 * ingress receipt (CloudEvents `time`, ms precision) to arrival. Controlled over HTTP by the bench:
 * `POST /__reset?record=1&since=<ms>`, `GET /__stats`, `GET /__count` (the count alone: cheap enough to poll often).
 *
 * A delivery of an event received before `since` (default: the reset, when recording; else no limit) is a
 * straggler of an earlier phase (a retry scheduled a minute later, say): answered, counted apart, neither
 * counted nor timed with the phase's own.
 *
 * It also counts the connections that carried deliveries: a client with one request per connection (undici,
 * as fan-out uses it) opens a new one only when all its others are busy, so the most open at once is the
 * most requests it had in flight — the concurrency the bare delivery baseline copies.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';

let count = 0;
let first = 0;
let last = 0;
let recording = false;
let since = 0;
let stragglers = 0;
let latencies: number[] = [];
const ids = new Set<string>();
let duplicates = 0;
const deliverySockets = new Set<Socket>();
let peakConnections = 0;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const server = createServer((req, res) => {
  if (req.url?.startsWith('/__count')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ count }));
    return;
  }
  if (req.url?.startsWith('/__stats')) {
    const sorted = Float64Array.from(latencies).sort();
    const arr = Array.from(sorted);
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        count,
        duplicates,
        stragglers,
        first,
        last,
        peakConnections,
        latency: {
          samples: arr.length,
          p50: percentile(arr, 50),
          p90: percentile(arr, 90),
          p99: percentile(arr, 99),
          max: arr.length ? arr[arr.length - 1] : null,
        },
      }),
    );
    return;
  }
  if (req.url?.startsWith('/__reset')) {
    count = 0;
    first = 0;
    last = 0;
    duplicates = 0;
    ids.clear();
    latencies = [];
    peakConnections = deliverySockets.size;
    const query = new URL(req.url, 'http://receiver').searchParams;
    recording = query.get('record') === '1';
    since = Number(query.get('since') ?? (recording ? Date.now() : 0));
    stragglers = 0;
    res.end('{}');
    return;
  }
  const socket = req.socket;
  if (!deliverySockets.has(socket)) {
    deliverySockets.add(socket);
    peakConnections = Math.max(peakConnections, deliverySockets.size);
    socket.once('close', () => deliverySockets.delete(socket));
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    let time: number | null = null;
    if (recording || since) {
      try {
        const t = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { time?: string }).time;
        if (t) time = Date.parse(t);
      } catch {
        // not a CloudEvent: counted, not timed
      }
      if (time !== null && time < since) {
        stragglers++;
        return;
      }
    }
    count++;
    if (!first) first = now;
    last = now;
    // One delivery per (event, subscriber): count repeats, which would mean a double delivery.
    const id = `${req.headers['webhook-id']}|${req.url}`;
    if (ids.has(id)) duplicates++;
    else ids.add(id);
    if (recording && time !== null) latencies.push(now - time);
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
