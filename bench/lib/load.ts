import autocannon from 'autocannon';
import { RequestMix } from './payloads';

export interface LoadResult {
  seconds: number;
  connections: number;
  targetRate: number | null;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 200 answers that were not `duplicate: true` (events published). */
  newEvents: number;
  /** 2xx answers per second. */
  okPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/**
 * POSTs the request mix to `url` with autocannon: `connections` keep-alive connections for `seconds`,
 * at most `rate` requests per second overall when given (latency is then corrected for coordinated
 * omission, autocannon's default).
 */
export async function runLoad(url: string, mix: RequestMix, opts: { connections: number; seconds: number; rate?: number }): Promise<LoadResult> {
  let newEvents = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: new URL(url).pathname,
        setupRequest: (req: any) => {
          const r = mix.next();
          return { ...req, body: r.body, headers: { ...req.headers, 'content-type': 'application/json', 'x-api-key': r.key } };
        },
        onResponse: (status: number, body: string) => {
          if (status === 200 && !body.includes('"duplicate"')) newEvents++;
        },
      },
    ],
  });
  const ok = result['2xx'];
  return {
    seconds: result.duration,
    connections: opts.connections,
    targetRate: opts.rate ?? null,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    newEvents,
    okPerSecond: Math.round(ok / result.duration),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  };
}
