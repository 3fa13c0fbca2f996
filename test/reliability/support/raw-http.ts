import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection (or it was reset) without any answer. */
  noAnswer: boolean;
}

/**
 * Writes raw bytes to an HTTP server over a plain socket (for what fetch refuses to send: lying
 * Content-Length, hand-made chunking, invalid headers) and reads the first answer. `parts` are written in
 * order with `gapMs` between them; the answer is read until the server closes or `timeoutMs` runs out.
 */
export function rawRequest(port: number, parts: Array<string | Buffer>, { gapMs = 0, timeoutMs = 5_000 } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(parse(Buffer.concat(chunks).toString('utf8')));
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('data', (c) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      const a = parse(text);
      // Complete once the body announced by Content-Length is in.
      if (!a.noAnswer && a.headers['content-length'] !== undefined && Buffer.byteLength(a.body) >= Number(a.headers['content-length'])) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
    s.on('connect', async () => {
      for (const p of parts) {
        if (done || s.destroyed) return;
        s.write(p);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

function parse(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m || end < 0) return { status: 0, headers: {}, body: '', noAnswer: true };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: text.slice(end + 4), noAnswer: false };
}

/** A POST /webhooks/nimbus head with the given extra header lines (no trailing blank line). */
export function head(apiKey: string, lines: string[]): string {
  return ['POST /webhooks/nimbus HTTP/1.1', 'Host: 127.0.0.1', `X-API-Key: ${apiKey}`, ...lines].join('\r\n') + '\r\n\r\n';
}
