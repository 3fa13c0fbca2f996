/**
 * Where an ingress request's time goes, from the apps' own Prometheus histograms: the mean of each stage
 * over a phase (difference of `_sum` / `_count` between two scrapes), and the share of each stage's
 * observations above the tail's bucket bounds (`TAIL_BOUNDS_MS`), which says which hop a p99 is spent in.
 */
const STAGES = {
  server: { metric: 'switchyard_http_request_duration_seconds_', match: 'route="/webhooks/nimbus"' },
  claim: { metric: 'switchyard_dedupe_claim_duration_seconds_', match: 'side="client"' },
  publish: { metric: 'switchyard_jetstream_publish_duration_seconds_', match: 'outcome="ok"' },
  claimDb: { metric: 'switchyard_dedupe_claim_duration_seconds_', match: 'side="server"' },
} as const;
type Stage = keyof typeof STAGES;
/** Bucket bounds of the apps' latency histograms (LATENCY_BUCKETS) the tail shares are read at. */
export const TAIL_BOUNDS_MS = [10, 25] as const;
export type StageTotals = Record<Stage, { sum: number; count: number; atMost: number[] }>;

export async function scrape(url: string): Promise<string> {
  return (await fetch(url).then((r) => r.text()).catch(() => '')) as string;
}

export async function scrapeStages(ingressMetricsUrl: string, dedupeMetricsUrl: string): Promise<StageTotals> {
  const lines = `${await scrape(ingressMetricsUrl)}\n${await scrape(dedupeMetricsUrl)}`.split('\n');
  const out = {} as StageTotals;
  for (const [stage, { metric, match }] of Object.entries(STAGES) as Array<[Stage, (typeof STAGES)[Stage]]>) {
    /** The sum over the stage's series of the lines that start with `metric` + `start`. */
    const value = (start: string) =>
      lines.filter((l) => l.startsWith(`${metric}${start}`) && l.includes(match)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    out[stage] = { sum: value('sum{'), count: value('count{'), atMost: TAIL_BOUNDS_MS.map((ms) => value(`bucket{le="${ms / 1000}",`)) };
  }
  return out;
}

/** Mean milliseconds of each stage between two scrapes. */
export function stageMeans(before: StageTotals, after: StageTotals): Record<Stage, number | null> {
  const out = {} as Record<Stage, number | null>;
  for (const stage of Object.keys(STAGES) as Stage[]) {
    const n = after[stage].count - before[stage].count;
    out[stage] = n > 0 ? Math.round(((after[stage].sum - before[stage].sum) / n) * 10_000) / 10 : null;
  }
  return out;
}

/** Per stage, the percentage of its observations between two scrapes above each of `TAIL_BOUNDS_MS`. */
export function stageTails(before: StageTotals, after: StageTotals): Record<Stage, number[] | null> {
  const out = {} as Record<Stage, number[] | null>;
  for (const stage of Object.keys(STAGES) as Stage[]) {
    const n = after[stage].count - before[stage].count;
    out[stage] = n > 0 ? after[stage].atMost.map((c, i) => Math.round(((n - (c - before[stage].atMost[i]!)) / n) * 10_000) / 100) : null;
  }
  return out;
}

/**
 * How fan-out made the first attempts of the deliveries it created, summed over its processes
 * (`switchyard_deliveries_created_total` by `first_attempt`): `direct` straight from the message, `queued`
 * through Postgres and the scheduler (a backlog drained mostly `queued` is the slow path), `parked`.
 */
export async function scrapeFirstAttempts(fanoutMetricsUrls: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of fanoutMetricsUrls) {
    for (const line of (await scrape(url)).split('\n')) {
      const m = /^switchyard_deliveries_created_total\{[^}]*first_attempt="(\w+)"[^}]*\} (\S+)/.exec(line);
      if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
    }
  }
  return out;
}

/** `after − before`, per key. */
export function countsSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}
