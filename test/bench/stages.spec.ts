import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { scrapeStages, stageMeans, stageTails } from '../../bench/lib/stages';

/** Where an ingress request's time goes, read from the apps' own histograms as they export them. */
describe('bench stages', () => {
  let server: Server;
  let text = '';
  let url = '';

  /** An ingress and a dedupe scrape in prom-client's format: claims (client side) with `over10` of `n` above 10 ms, `over25` above 25. */
  const exposition = (n: number, over10: number, over25: number, sum: number) =>
    [
      `switchyard_dedupe_claim_duration_seconds_bucket{le="0.005",side="client"} ${n - over10 - 1}`,
      `switchyard_dedupe_claim_duration_seconds_bucket{le="0.01",side="client"} ${n - over10}`,
      `switchyard_dedupe_claim_duration_seconds_bucket{le="0.025",side="client"} ${n - over25}`,
      `switchyard_dedupe_claim_duration_seconds_bucket{le="+Inf",side="client"} ${n}`,
      `switchyard_dedupe_claim_duration_seconds_sum{side="client"} ${sum}`,
      `switchyard_dedupe_claim_duration_seconds_count{side="client"} ${n}`,
      // the server side's buckets must not count towards the client's
      `switchyard_dedupe_claim_duration_seconds_bucket{le="0.01",side="server"} 7`,
      `switchyard_dedupe_claim_duration_seconds_count{side="server"} 9`,
      `switchyard_dedupe_claim_duration_seconds_sum{side="server"} 0.009`,
    ].join('\n');

  beforeAll(async () => {
    server = createServer((_req, res) => res.end(text));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads the mean of each stage and the share above 10 and 25 ms between two scrapes', async () => {
    text = exposition(100, 0, 0, 0.2);
    const before = await scrapeStages(url, url);
    // 400 more claims, 8 of them over 10 ms and 2 of those over 25 ms, 2 s in all
    text = exposition(500, 8, 2, 2.2);
    const after = await scrapeStages(url, url);
    expect(stageMeans(before, after).claim).toBe(5);
    expect(stageTails(before, after).claim).toEqual([2, 0.5]);
    // both scrapes hold the server side's same 9 claims: nothing happened there
    expect(stageTails(before, after).claimDb).toBeNull();
    expect(stageTails(before, after).publish).toBeNull();
  });
});
