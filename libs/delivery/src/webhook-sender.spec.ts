import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import type { DeliveryJob } from '@switchyard/persistence';
import { Cancellation } from './cancellation';
import { generateSigningSecret } from './signature';
import { RESPONSE_EXCERPT_BYTES, WebhookSender } from './webhook-sender';

/** The sender alone against a real loopback receiver: what an attempt keeps of an answer, and how it is called off. */
describe('WebhookSender', () => {
  let server: Server;
  let url = '';
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');
  const agent = new Agent();
  const sender = new WebhookSender({ dispatcher: agent, defaultTimeoutMs: 500 });

  beforeAll(async () => {
    server = createServer((req, res) => req.resume().on('end', () => answer(req, res)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const job = (): DeliveryJob => ({
    deliveryId: randomUUID(),
    attemptCount: 0,
    event: { id: randomUUID(), clinicId: 'c1', eventName: 'shipment:created', entityId: null, payload: '{"event_data":{}}', receivedAt: new Date(), traceParent: null, streamSeq: 1 },
    subscriber: { id: randomUUID(), clinicId: 'c1', url, format: 'cloudevents', enabled: true, secrets: [generateSigningSecret()], apiKey: null, timeoutMs: null, maxInFlight: null, rateLimitPerSecond: null, ordered: false },
  });

  it('keeps the status, Retry-After and at most the first 2 KB of a large body', async () => {
    answer = (_req, res) => {
      res.writeHead(429, { 'retry-after': '7' });
      res.end('x'.repeat(1_000_000));
    };
    const result = await sender.send(job());
    expect(result).toMatchObject({ outcome: 'http_error', statusCode: 429, error: 'HTTP 429', retryAfterMs: 7_000 });
    expect(result.responseExcerpt).toBe('x'.repeat(RESPONSE_EXCERPT_BYTES));
  });

  it('times out a body that trickles past the timeout, whatever its status', async () => {
    answer = (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    };
    const result = await sender.send(job());
    expect(result).toMatchObject({ outcome: 'timeout', statusCode: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(490);
  });

  it('gives an attempt up as soon as its slot is lost, and one whose slot was lost before it began', async () => {
    answer = () => undefined; // never answers
    const lost = new Cancellation();
    const pending = sender.send(job(), {}, lost);
    await new Promise((r) => setTimeout(r, 50));
    lost.cancel();
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'network_error', error: expect.stringMatching(/lost its in-flight slot/) });
    expect(result.durationMs).toBeLessThan(400);
    await expect(sender.send(job(), {}, lost)).resolves.toMatchObject({ outcome: 'network_error', error: expect.stringMatching(/lost its in-flight slot/) });
  });

  it('stops listening to a slot once its attempt is over', async () => {
    answer = (_req, res) => res.end('fine');
    const lost = new Cancellation();
    let calledOff = 0;
    const original = lost.onCancel.bind(lost);
    lost.onCancel = (listener) => original(() => (calledOff++, listener()));
    await expect(sender.send(job(), {}, lost)).resolves.toMatchObject({ outcome: 'success', responseExcerpt: 'fine' });
    lost.cancel();
    expect(calledOff).toBe(0);
  });

  it('reuses a connection for the next attempt started as soon as one is answered: no more connections than attempts at once', async () => {
    answer = (_req, res) => res.end('ok');
    const fresh = new Agent();
    const counting = new WebhookSender({ dispatcher: fresh, defaultTimeoutMs: 2_000 });
    let opened = 0;
    const count = () => opened++;
    server.on('connection', count);
    try {
      // Eight lanes, each starting its next attempt the moment the last one is over (as fan-out's places do).
      const lanes = Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 50; i++) expect((await counting.send(job())).outcome).toBe('success');
      });
      await Promise.all(lanes);
      expect(opened).toBeLessThanOrEqual(8);
    } finally {
      server.off('connection', count);
      await fresh.close();
    }
  });
});
