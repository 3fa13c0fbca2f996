import { goalsOf } from '../../bench/lib/goals';

/** The bench's goals block reads the right figures: the median drain pair, the knee against its own saturations. */
describe('bench goals', () => {
  /** The goal whose name starts with `name`, as goalsOf reads the results `r`. */
  const goalOf = (name: string, r: Record<string, unknown>) => goalsOf(r, null).find((g) => g.goal.startsWith(name))!;
  const drainGoal = (r: Record<string, unknown>) => goalOf('fan-out backlog drain', r);
  const pair = (drain: number, bare: number, ratio: number) => ({ drain, bare, concurrency: 256, ratio });
  const first = { fanout: { deliveriesPerSecond: 5_000 }, deliveryBaseline: { deliveriesPerSecond: 9_000, concurrency: 256 } };

  it('takes the drain pair whose ratio is the median, not the first', () => {
    const g = drainGoal({
      ...first,
      drainRounds: [
        pair(5_000, 9_000, 0.56),
        pair(4_000, 10_000, 0.4),
        pair(4_500, 10_000, 0.45),
      ],
    });
    expect(g.ratio).toBe(0.45);
    expect(g.figure).toBe('4,500 deliveries/s');
    expect(g.baseline).toContain('bare 10,000 deliveries/s');
    expect(g.baseline).toContain('ratios 0.56, 0.4, 0.45');
    expect(g.met).toBe(false);
  });

  it('leaves out a drain that did not deliver everything once', () => {
    const g = drainGoal({ ...first, drainRounds: [pair(5_000, 9_000, 0.56), { ...pair(9_000, 9_000, 1), ratio: null }, pair(4_000, 9_000, 0.44)] });
    expect(g.goal).toContain('median of 2 pairs');
    expect(g.ratio).toBe(0.44);
  });

  it('takes the lower middle pair of an even count', () => {
    const g = drainGoal({ ...first, drainRounds: [pair(5_000, 9_000, 0.56), pair(4_000, 9_000, 0.44)] });
    expect(g.ratio).toBe(0.44);
  });

  it('falls back to the one drain and baseline without rounds', () => {
    const g = drainGoal(first);
    expect(g.ratio).toBe(0.56);
    expect(g.met).toBe(true);
  });

  it('divides the knee by the saturation measured around its search, not the ingress phase', () => {
    const knee = goalOf('sustained knee', {
      ingress: { saturation: { okPerSecond: 4_000 } },
      knee: { eventsPerSecond: 1_000, ingressSaturation: 2_900, saturationBeforeAfter: [3_100, 2_700] },
    });
    expect(knee.ratio).toBe(0.34);
    expect(knee.met).toBe(true);
    expect(knee.baseline).toBe('ingress alone 2,900 events/s (3,100 before, 2,700 after)');
  });

  it("divides Postgres CPU per delivery by the mean of the old engine's runs beside this one", () => {
    const pg = goalOf('Postgres', {
      endToEnd: { 50: { cpu: { msPerDelivery: { postgres: 0.5 } } }, 200: { cpu: { msPerDelivery: { postgres: 0.3 } } } },
      beforeEngine: [
        { when: 'before', file: 'a.json', postgresMsPerDelivery: { 50: 1.5, 200: 1.1 } },
        { when: 'after', file: 'b.json', postgresMsPerDelivery: { 50: 1.4, 200: 0.9 } },
      ],
    });
    expect(pg.goal).toContain('@ 200 ev/s');
    expect(pg.baseline).toBe('1 ms (the old engine before 1.1, after 0.9 ms)');
    expect(pg.ratio).toBe(0.3);
    expect(pg.met).toBe(true);
  });

  it('takes the ingress p99 pair in turns whose ratio is the median, over the phases minutes apart', () => {
    const p99 = goalOf('ingress p99', {
      ingress: {
        rates: { 500: { latencyMs: { p99: 40 } } },
        p99Pairs: [
          { ingressP99: 30, bareP99: 5, ratio: 6 },
          { ingressP99: 24, bareP99: 6, ratio: 4 },
          { ingressP99: 27, bareP99: 6, ratio: 4.5 },
        ],
      },
      bareHttp: { rates: { 500: { latencyMs: { p99: 4 } } } },
    });
    expect(p99.figure).toBe('27 ms');
    expect(p99.baseline).toBe('bare 6 ms; ratios 6, 4, 4.5');
    expect(p99.ratio).toBe(4.5);
    expect(p99.met).toBe(true);
  });
});
