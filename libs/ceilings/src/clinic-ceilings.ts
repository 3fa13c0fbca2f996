/**
 * Per-clinic ceilings: what one clinic may take of the shared gateway. Each has a default from the config
 * and may be overridden for one clinic by an operator (`PATCH /admin/clinics/:id/limits`); null means
 * "the default". See docs/OPERATIONS.md#ceilings.
 */
export interface ClinicCeilings {
  /** Live (not deleted) subscribers of the clinic. */
  maxSubscribers: number;
  /** Highest `max_in_flight` one of its subscribers may ask for. */
  maxInFlight: number;
  /** Longest `timeout_ms` one of its subscribers may ask for. */
  maxTimeoutMs: number;
  /** Events per second it may send to ingress (0 = no limit), and the bucket size. */
  ingressRatePerSecond: number;
  ingressBurst: number;
}

export type CeilingOverrides = { [K in keyof ClinicCeilings]: number | null };

export const NO_OVERRIDES: CeilingOverrides = {
  maxSubscribers: null,
  maxInFlight: null,
  maxTimeoutMs: null,
  ingressRatePerSecond: null,
  ingressBurst: null,
};

/** The settings the defaults come from (a subset of AppConfig). */
export interface CeilingDefaults {
  CLINIC_MAX_SUBSCRIBERS: number;
  CLINIC_MAX_IN_FLIGHT: number;
  CLINIC_MAX_TIMEOUT: number;
  INGRESS_RATE_LIMIT: number;
  INGRESS_RATE_BURST: number;
}

/** The ceilings in force for a clinic: its overrides, else the defaults. A burst left unset is one second's worth (at least 1). */
export function effectiveCeilings(overrides: CeilingOverrides, d: CeilingDefaults): ClinicCeilings {
  const rate = overrides.ingressRatePerSecond ?? d.INGRESS_RATE_LIMIT;
  return {
    maxSubscribers: overrides.maxSubscribers ?? d.CLINIC_MAX_SUBSCRIBERS,
    maxInFlight: overrides.maxInFlight ?? d.CLINIC_MAX_IN_FLIGHT,
    maxTimeoutMs: overrides.maxTimeoutMs ?? d.CLINIC_MAX_TIMEOUT,
    ingressRatePerSecond: rate,
    ingressBurst: overrides.ingressBurst ?? (d.INGRESS_RATE_BURST || Math.max(1, Math.ceil(rate))),
  };
}

/** The subscriber settings a ceiling bounds, as asked for (undefined: not part of this request). */
export interface SubscriberAsk {
  max_in_flight?: number | null;
  timeout_ms?: number | null;
}

/** Each asked value above the clinic's ceiling, as `field: reason` (empty when all are within). */
export function ceilingProblems(ask: SubscriberAsk, c: ClinicCeilings): string[] {
  const problems: string[] = [];
  if (ask.max_in_flight != null && ask.max_in_flight > c.maxInFlight) {
    problems.push(`max_in_flight: ${ask.max_in_flight} is above this clinic's ceiling of ${c.maxInFlight}`);
  }
  if (ask.timeout_ms != null && ask.timeout_ms > c.maxTimeoutMs) {
    problems.push(`timeout_ms: ${ask.timeout_ms} is above this clinic's ceiling of ${c.maxTimeoutMs}`);
  }
  return problems;
}

/** The delivery defaults a subscriber that sets nothing gets (a subset of AppConfig). */
export interface DeliveryDefaults {
  DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER: number;
  DELIVERY_TIMEOUT: number;
}

/**
 * What to store for a setting the subscriber leaves unset (null): null (the delivery default) while the
 * default is within the clinic's ceiling, else the ceiling itself, so that a clinic held below the
 * defaults cannot get them back by setting nothing.
 */
export function unsetWithinCeiling(c: ClinicCeilings, d: DeliveryDefaults): { max_in_flight: number | null; timeout_ms: number | null } {
  return {
    max_in_flight: d.DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER > c.maxInFlight ? c.maxInFlight : null,
    timeout_ms: d.DELIVERY_TIMEOUT > c.maxTimeoutMs ? c.maxTimeoutMs : null,
  };
}
