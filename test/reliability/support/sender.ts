import { clone, nimbusFixtures } from '../../fixtures/nimbus';
import type { Ledger } from './ledger';

export interface SendOptions {
  /** Attempts before giving up (Nimbus itself retries for hours; tests bound it). */
  maxAttempts?: number;
  /** Wait between attempts; a Retry-After is honoured but scaled down by `retryAfterScale`. */
  retryDelayMs?: number;
  retryAfterScale?: number;
  deadlineMs?: number;
}

export interface Answer {
  status: number;
  body: any;
  headers?: Headers;
  startedAt: number;
  endedAt: number;
}

/** One POST to the ingress; status 0 when there was no HTTP answer at all (connection refused/reset). */
export async function post(ingressUrl: string, apiKey: string, body: unknown, timeoutMs = 10_000): Promise<Answer> {
  const startedAt = Date.now();
  try {
    const res = await fetch(`${ingressUrl}/webhooks/nimbus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers, startedAt, endedAt: Date.now() };
  } catch (err) {
    return { status: 0, body: String((err as Error).message), startedAt, endedAt: Date.now() };
  }
}

/**
 * Sends like Nimbus: anything but a 200 is retried later. Every answer goes into the ledger; returns the
 * answers in order. `ingress()` is read on each attempt, so a restarted ingress on a new port is found.
 */
export async function sendUntilAccepted(
  ledger: Ledger,
  ingress: () => string,
  clinic: { id: string; apiKey: string },
  body: unknown,
  options: SendOptions = {},
  onAnswer?: (a: Answer) => void,
): Promise<Answer[]> {
  const { maxAttempts = 200, retryDelayMs = 200, retryAfterScale = 0.05, deadlineMs = 60_000 } = options;
  const answers: Answer[] = [];
  const deadline = Date.now() + deadlineMs;
  for (let i = 0; i < maxAttempts && Date.now() < deadline; i++) {
    ledger.sent++;
    const a = await post(ingress(), clinic.apiKey, body);
    answers.push(a);
    onAnswer?.(a);
    ledger.recordAnswer(clinic.id, a.status, a.body);
    if (a.status === 200) return answers;
    const retryAfter = Number(a.headers?.get('retry-after') ?? NaN);
    const wait = Number.isFinite(retryAfter) ? Math.max(retryDelayMs, retryAfter * 1000 * retryAfterScale) : retryDelayMs;
    await new Promise((r) => setTimeout(r, wait));
  }
  return answers;
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  await poolWhile(concurrency, (next) => next < items.length, (i) => fn(items[i]!, i));
}

/**
 * Like pool, over the items 0, 1, 2… for as long as `more(next)` allows the next one: a load that lasts until
 * a fault has come and gone, however fast the machine sends (a fixed count could all be sent before it).
 * Resolves with how many items were sent.
 */
export async function poolWhile(concurrency: number, more: (next: number) => boolean, fn: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more(next)) await fn(next++);
    }),
  );
  return next;
}

/** A distinct, valid shipment:created body (distinct shipment ids → distinct event ids). */
export function shipment(id: string): object {
  const body = clone(nimbusFixtures['shipment:created']);
  body.event_data.shipment_id = id;
  return body;
}
