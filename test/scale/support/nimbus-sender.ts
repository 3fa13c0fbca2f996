/** One event the sender has had accepted (a 200 with its event id). */
export interface Accepted {
  eventId: string;
  clinicId: string;
  eventName: string;
  entity: string;
  /** When the 200 came back. */
  at: number;
}

export interface SenderOptions {
  /** Nimbus gives up on an answer after 5 s. */
  timeoutMs?: number;
  /** Wait before a retry (a Retry-After is honoured, scaled down by `retryAfterScale`). */
  retryDelayMs?: number;
  retryAfterScale?: number;
  /** An event not accepted by then fails the run. */
  deadlineMs?: number;
}

/**
 * Sends like Nimbus: each entity's changes in order, the next one only after the previous got a 200;
 * anything else (503, 409, a timeout, a refused connection) is retried, each try on the next ingress, so
 * the requests are spread over every ingress process. Records every 200 (event id per entity, in order).
 */
export class NimbusSender {
  readonly accepted = new Map<string, Accepted>();
  /** `<clinic>/<entity>` → event ids in the order their 200s came back. */
  readonly order = new Map<string, string[]>();
  /** Answers by status (0 = no answer), retries included. */
  readonly answers = new Map<number, number>();
  requests = 0;
  private next = 0;

  constructor(
    private readonly ingressUrls: () => string[],
    private readonly options: SenderOptions = {},
  ) {}

  /** Sends `bodies` (all about `entity`) one after the other, each retried until accepted. */
  async sendInOrder(clinic: { id: string; apiKey: string }, entity: string, bodies: Array<{ event_name: string }>): Promise<void> {
    for (const body of bodies) {
      const eventId = await this.sendUntilAccepted(clinic.apiKey, body);
      const key = `${clinic.id}/${entity}`;
      if (!this.accepted.has(eventId)) {
        this.accepted.set(eventId, { eventId, clinicId: clinic.id, eventName: body.event_name, entity, at: Date.now() });
        this.order.set(key, [...(this.order.get(key) ?? []), eventId]);
      }
    }
  }

  private async sendUntilAccepted(apiKey: string, body: unknown): Promise<string> {
    const { timeoutMs = 5_000, retryDelayMs = 200, retryAfterScale = 0.1, deadlineMs = 120_000 } = this.options;
    const deadline = Date.now() + deadlineMs;
    const text = JSON.stringify(body);
    for (;;) {
      const urls = this.ingressUrls();
      const url = urls[this.next++ % urls.length]!;
      this.requests++;
      let status = 0;
      let retryAfter = NaN;
      try {
        const res = await fetch(`${url}/webhooks/nimbus`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
          body: text,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.status;
        retryAfter = Number(res.headers.get('retry-after') ?? NaN);
        const answer = (await res.json().catch(() => ({}))) as { event_id?: unknown };
        if (status === 200) {
          this.count(status);
          if (typeof answer.event_id !== 'string') throw new Error(`200 without an event_id: ${JSON.stringify(answer)}`);
          return answer.event_id;
        }
      } catch (err) {
        if (status === 200) throw err;
      }
      this.count(status);
      if (Date.now() > deadline) throw new Error(`no 200 for ${text.slice(0, 120)}… within ${deadlineMs} ms (last answer ${status})`);
      const wait = Number.isFinite(retryAfter) ? Math.max(retryDelayMs, retryAfter * 1000 * retryAfterScale) : retryDelayMs;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private count(status: number) {
    this.answers.set(status, (this.answers.get(status) ?? 0) + 1);
  }
}
