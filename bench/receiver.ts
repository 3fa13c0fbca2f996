/**
 * The fast subscriber: answers 200 at once, counts deliveries and, while recording, the time from the
 * ingress receipt (CloudEvents `time`, ms precision) to arrival. Controlled over HTTP by the bench:
 * `POST /__reset?record=1`, `GET /__stats`.
 */
import { createServer } from 'node:http';

let count = 0;
let first = 0;
let last = 0;
let recording = false;
let latencies: number[] = [];
const ids = new Set<string>();
let duplicates = 0;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const server = createServer((req, res) => {
  if (req.url?.startsWith('/__stats')) {
    const sorted = Float64Array.from(latencies).sort();
    const arr = Array.from(sorted);
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        count,
        duplicates,
        first,
        last,
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
    recording = req.url.includes('record=1');
    res.end('{}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    count++;
    if (!first) first = now;
    last = now;
    // One delivery per (event, subscriber): count repeats, which would mean a double delivery.
    const id = `${req.headers['webhook-id']}|${req.url}`;
    if (ids.has(id)) duplicates++;
    else ids.add(id);
    if (recording) {
      try {
        const time = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { time?: string }).time;
        if (time) latencies.push(now - Date.parse(time));
      } catch {
        // not a CloudEvent: counted, not timed
      }
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.send?.({ type: 'ready', port: addr.port });
});
