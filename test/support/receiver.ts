import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { verifySignature } from '@switchyard/delivery';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type Responder = (
  req: ReceivedRequest,
  index: number,
) => { status: number; body?: string; headers?: Record<string, string>; /** answer after this long */ delayMs?: number } | 'hang';

/** A real HTTP receiver on loopback that records every request and answers as told (200 by default). */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  private server!: Server;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  /** Requests being answered right now, and the most there ever were at once. */
  active = 0;
  maxActive = 0;
  respond: Responder = () => ({ status: 200, body: '{"ok":true}' });

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        this.maxActive = Math.max(this.maxActive, ++this.active);
        res.on('close', () => this.active--);
        const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.requests.push(r);
        const answer = this.respond(r, this.requests.length - 1);
        this.waiters = this.waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));
        if (answer === 'hang') return;
        const reply = () => {
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.body ?? '');
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Resolves once `n` requests in total have arrived, or rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs = 15_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`receiver got ${this.requests.length} of ${n} requests in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * What a subscriber does with a delivery: whether it carries a valid Standard Webhooks signature by `secret`
 * (one of its `v1,` signatures, or the given `signature` alone).
 */
export function signedBy(secret: string, r: ReceivedRequest, signature = String(r.headers['webhook-signature'])): boolean {
  return verifySignature(secret, { id: String(r.headers['webhook-id']), timestamp: String(r.headers['webhook-timestamp']), signature }, r.body);
}

/** Receivers a spec starts as it needs them (`next()`), all stopped by `stop()` or by passing `all` to useStack. */
export class ReceiverPool {
  readonly all: TestReceiver[] = [];

  async next(): Promise<TestReceiver> {
    const r = await new TestReceiver().start();
    this.all.push(r);
    return r;
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((r) => r.stop()));
  }
}
