import { NO_OVERRIDES, ceilingProblems, effectiveCeilings, unsetWithinCeiling } from './clinic-ceilings';

const defaults = { CLINIC_MAX_SUBSCRIBERS: 50, CLINIC_MAX_IN_FLIGHT: 50, CLINIC_MAX_TIMEOUT: 15_000, INGRESS_RATE_LIMIT: 0, INGRESS_RATE_BURST: 0 };

describe('clinic ceilings', () => {
  it('takes the defaults where a clinic has no override, and its override where it has one', () => {
    expect(effectiveCeilings(NO_OVERRIDES, defaults)).toEqual({ maxSubscribers: 50, maxInFlight: 50, maxTimeoutMs: 15_000, ingressRatePerSecond: 0, ingressBurst: 1 });
    expect(effectiveCeilings({ ...NO_OVERRIDES, maxSubscribers: 3, ingressRatePerSecond: 12.5 }, defaults)).toEqual({
      maxSubscribers: 3,
      maxInFlight: 50,
      maxTimeoutMs: 15_000,
      ingressRatePerSecond: 12.5,
      ingressBurst: 13,
    });
    expect(effectiveCeilings({ ...NO_OVERRIDES, ingressRatePerSecond: 10, ingressBurst: 2 }, defaults).ingressBurst).toBe(2);
    expect(effectiveCeilings(NO_OVERRIDES, { ...defaults, INGRESS_RATE_LIMIT: 100, INGRESS_RATE_BURST: 7 }).ingressBurst).toBe(7);
    // an override of 0 is "no limit", not "the default"
    expect(effectiveCeilings({ ...NO_OVERRIDES, ingressRatePerSecond: 0 }, { ...defaults, INGRESS_RATE_LIMIT: 100 }).ingressRatePerSecond).toBe(0);
  });

  it('names each asked value above a ceiling, and nothing at or below it', () => {
    const c = effectiveCeilings({ ...NO_OVERRIDES, maxInFlight: 5, maxTimeoutMs: 2_000 }, defaults);
    expect(ceilingProblems({ max_in_flight: 5, timeout_ms: 2_000 }, c)).toEqual([]);
    expect(ceilingProblems({ max_in_flight: null, timeout_ms: undefined }, c)).toEqual([]);
    expect(ceilingProblems({ max_in_flight: 6, timeout_ms: 2_001 }, c)).toEqual([
      "max_in_flight: 6 is above this clinic's ceiling of 5",
      "timeout_ms: 2001 is above this clinic's ceiling of 2000",
    ]);
  });

  it('stores the ceiling for an unset setting only where the delivery default is above it', () => {
    const d = { DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER: 10, DELIVERY_TIMEOUT: 10_000 };
    expect(unsetWithinCeiling(effectiveCeilings(NO_OVERRIDES, defaults), d)).toEqual({ max_in_flight: null, timeout_ms: null });
    expect(unsetWithinCeiling(effectiveCeilings({ ...NO_OVERRIDES, maxInFlight: 2, maxTimeoutMs: 1_000 }, defaults), d)).toEqual({ max_in_flight: 2, timeout_ms: 1_000 });
  });
});
