import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request as a subscriber saw it. */
export interface Arrival {
  webhookId: string;
  /** CloudEvents `subject`: the entity the event is about. */
  entity: string;
  eventName: string;
  /** CloudEvents extension `clinicid`: the tenant the event belongs to. */
  clinicId: string;
  /** When the request's head arrived (ms since epoch). */
  at: number;
  /** The answer this receiver chose (200, or a failure status). */
  status: number;
  /** Requests of this subscriber under way at that moment, this one included. */
  inFlight: number;
  /** When the answer was handed to the socket; undefined if the sender hung up first (its timeout, or a crash). */
  answeredAt?: number;
}

/** How one subscriber answers: after `delayMs`, with `fail(...)` or 200. */
export interface Behaviour {
  delayMs?: number;
  /** A status other than 200 to answer, given the request and how many times this webhook-id came before. */
  fail?: (arrival: Arrival, previousTries: number) => number | undefined;
}

/** Everything one subscriber received, and the most requests it ever had under way at once. */
export class SubscriberRecord {
  readonly arrivals: Arrival[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly tries = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly behaviour: Behaviour,
  ) {}

  /** Called for each request; returns the status to answer. */
  receive(head: Omit<Arrival, 'status' | 'inFlight'>): Arrival {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const previous = this.tries.get(head.webhookId) ?? 0;
    this.tries.set(head.webhookId, previous + 1);
    const arrival: Arrival = { ...head, status: 200, inFlight: this.inFlight };
    arrival.status = this.behaviour.fail?.(arrival, previous) ?? 200;
    this.arrivals.push(arrival);
    return arrival;
  }

  done(): void {
    this.inFlight--;
  }
}

/**
 * One HTTP server on loopback standing in for many subscribers, one path each (`/s/<name>`): it records
 * every request (webhook-id, entity, arrival time) and counts, per subscriber, the requests under way from
 * the moment a request arrives until its answer is sent or its connection drops (a sender killed with -9).
 */
export class RecordingReceiver {
  private server?: Server;
  private readonly subscribers = new Map<string, SubscriberRecord>();

  add(name: string, behaviour: Behaviour = {}): SubscriberRecord {
    const record = new SubscriberRecord(name, behaviour);
    this.subscribers.set(name, record);
    return record;
  }

  url(name: string): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/s/${encodeURIComponent(name)}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const at = Date.now();
    const record = this.subscribers.get(decodeURIComponent((req.url ?? '').replace(/^\/s\//, '')));
    if (!record) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { subject?: string; type?: string; clinicid?: string } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // recorded with empty fields: the ledger finds no such event
      }
      const arrival = record.receive({
        webhookId: String(req.headers['webhook-id'] ?? ''),
        entity: body.subject ?? '',
        eventName: body.type ?? '',
        clinicId: body.clinicid ?? '',
        at,
      });
      // Under way until the answer is handed to the socket or the connection drops (its sender killed
      // mid-attempt), whichever comes first.
      let open = true;
      const done = () => {
        if (open) record.done();
        open = false;
      };
      res.once('finish', done);
      res.once('close', done);
      const answer = () => {
        if (res.destroyed) return;
        arrival.answeredAt = Date.now();
        res.writeHead(arrival.status, { 'content-type': 'application/json' }).end(arrival.status === 200 ? '{"ok":true}' : '{"ok":false}');
      };
      if (record.behaviour.delayMs) setTimeout(answer, record.behaviour.delayMs);
      else answer();
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }
}
