/**
 * Where an ingress request's time goes, from the apps' own Prometheus histograms: the mean of each stage
 * over a phase (difference of `_sum` / `_count` between two scrapes).
 */
const STAGES = {
  server: { metric: 'switchyard_http_request_duration_seconds_', match: 'route="/webhooks/nimbus"' },
  claim: { metric: 'switchyard_dedupe_claim_duration_seconds_', match: 'side="client"' },
  publish: { metric: 'switchyard_jetstream_publish_duration_seconds_', match: 'outcome="ok"' },
  claimDb: { metric: 'switchyard_dedupe_claim_duration_seconds_', match: 'side="server"' },
} as const;
type Stage = keyof typeof STAGES;
export type StageTotals = Record<Stage, { sum: number; count: number }>;

async function scrape(url: string): Promise<string> {
  return (await fetch(url).then((r) => r.text()).catch(() => '')) as string;
}

export async function scrapeStages(ingressMetricsUrl: string, dedupeMetricsUrl: string): Promise<StageTotals> {
  const text = `${await scrape(ingressMetricsUrl)}\n${await scrape(dedupeMetricsUrl)}`;
  const out = {} as StageTotals;
  for (const [stage, { metric, match }] of Object.entries(STAGES) as Array<[Stage, (typeof STAGES)[Stage]]>) {
    const value = (suffix: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${metric}${suffix}{`) && l.includes(match))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    out[stage] = { sum: value('sum'), count: value('count') };
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
