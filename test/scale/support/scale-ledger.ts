import type { Accepted } from './nimbus-sender';
import type { Arrival, SubscriberRecord } from './recording-receiver';

/** A subscriber as registered, and what its receiver recorded. */
export interface TrackedSubscriber {
  name: string;
  clinicId: string;
  subscriberId: string;
  eventTypes: string[];
  ordered: boolean;
  maxInFlight: number;
  ratePerSecond?: number;
  /** Answers failure to everything: each event it matches must end dead-lettered, once. */
  failsForever?: boolean;
  record: SubscriberRecord;
}

export interface LedgerInput {
  accepted: Map<string, Accepted>;
  /** `<clinic>/<entity>` → event ids in the order the sender got their 200s. */
  order: Map<string, string[]>;
  subscribers: TrackedSubscriber[];
  /** Rows of `deliveries` whose status is `dead`. */
  deadLetters: Array<{ event_id: string; subscriber_id: string }>;
  /** When fan-out replicas were killed (-9): an attempt cut then may be made again. */
  crashes: number[];
  deliveryTimeoutMs: number;
  /**
   * The sender and receiver stalls measured around a window of arrivals [from, to] (ms since epoch; see
   * StallLog.around): the rate check allows for them on top of its fixed slack. None measured: 0.
   */
  stallsAround?: (from: number, to: number) => number;
}

export interface Check {
  check: string;
  value: string;
  limit: string;
  ok: boolean;
}

export interface Duplicate {
  subscriber: string;
  webhookId: string;
  /** Arrival times of every copy answered 2xx, and when each answer went out (undefined: the sender had hung up). */
  copies: Array<{ at: number; answeredAt?: number }>;
  /** The crash that cut the first copy, if it arrived within DELIVERY_TIMEOUT before one. */
  cutBy?: number;
}

export interface LedgerResult {
  checks: Check[];
  duplicates: Duplicate[];
  /** Figures for the end-of-run reliability table (test/reliability/support/table-reporter.js). */
  expected: number;
  delivered: number;
  deadLettered: number;
  lost: number;
  crossTenant: number;
}

const matches = (s: TrackedSubscriber, eventName: string) => s.eventTypes.includes('*') || s.eventTypes.includes(eventName);
const ok2xx = (a: Arrival) => a.status >= 200 && a.status < 300;

/**
 * What the scale run promised and what came out, check by check: nothing lost, duplicates only where a
 * crash cut an attempt, per-entity order for ordered subscribers, never more requests under way than a
 * subscriber's `max_in_flight`, never faster than its rate (plus the bucket's one-second burst), dead
 * letters exactly for the always-failing subscriber's events, each once, and nothing across tenants.
 */
export function reconcileScale(input: LedgerInput): LedgerResult {
  const { accepted, subscribers } = input;
  const checks: Check[] = [];
  const dead = new Map<string, number>();
  for (const r of input.deadLetters) dead.set(`${r.subscriber_id}/${r.event_id}`, (dead.get(`${r.subscriber_id}/${r.event_id}`) ?? 0) + 1);

  // ── Every accepted event reached every matching subscriber (or, for the failing one, a dead letter) ──
  let expected = 0;
  let delivered = 0;
  let deadLettered = 0;
  let lost = 0;
  let strayDeadLetters = 0;
  const lostExamples: string[] = [];
  const succeeded = new Map<TrackedSubscriber, Map<string, Arrival[]>>();
  for (const s of subscribers) {
    const byEvent = new Map<string, Arrival[]>();
    for (const a of s.record.arrivals.filter(ok2xx)) byEvent.set(a.webhookId, [...(byEvent.get(a.webhookId) ?? []), a]);
    succeeded.set(s, byEvent);
  }
  for (const e of accepted.values()) {
    for (const s of subscribers.filter((x) => x.clinicId === e.clinicId && matches(x, e.eventName))) {
      expected++;
      if (s.failsForever) {
        if (dead.has(`${s.subscriberId}/${e.eventId}`)) deadLettered++;
        else lost++;
      } else if (succeeded.get(s)!.has(e.eventId)) delivered++;
      else {
        lost++;
        if (lostExamples.length < 3) lostExamples.push(`${s.name} ${e.eventName} ${e.entity} ${e.eventId}`);
      }
    }
  }
  checks.push({ check: 'lost (accepted event × matching subscriber, neither delivered nor dead-lettered)', value: `${lost} of ${expected}${lostExamples.length ? ` (e.g. ${lostExamples.join('; ')})` : ''}`, limit: '0', ok: lost === 0 });

  // ── Nothing foreign: every request is an accepted event of the subscriber's clinic, of a type it asked for ──
  let crossTenant = 0;
  let unexpected = 0;
  for (const s of subscribers) {
    for (const a of s.record.arrivals) {
      const e = accepted.get(a.webhookId);
      if (a.clinicId !== s.clinicId || (e && e.clinicId !== s.clinicId)) crossTenant++;
      else if (!e || !matches(s, e.eventName)) unexpected++;
    }
  }
  checks.push({ check: 'cross-tenant requests', value: String(crossTenant), limit: '0', ok: crossTenant === 0 });
  checks.push({ check: 'requests for events not accepted or not subscribed to', value: String(unexpected), limit: '0', ok: unexpected === 0 });

  // ── Duplicates: a second 2xx copy only for an attempt cut by a crash ──
  const duplicates: Duplicate[] = [];
  for (const s of subscribers) {
    for (const [webhookId, copies] of succeeded.get(s)!) {
      if (copies.length < 2) continue;
      const firstAt = copies[0]!.at;
      const cutBy = input.crashes.find((k) => firstAt <= k && k - firstAt <= input.deliveryTimeoutMs);
      duplicates.push({ subscriber: s.name, webhookId, copies: copies.map((c) => ({ at: c.at, answeredAt: c.answeredAt })), cutBy });
    }
  }
  const unexplained = duplicates.filter((d) => d.cutBy === undefined);
  checks.push({
    check: 'duplicates (a 2nd delivered copy) of attempts cut by the fan-out kill',
    value: String(duplicates.length - unexplained.length),
    limit: 'allowed, counted',
    ok: true,
  });
  checks.push({
    check: 'duplicates not explained by a crash',
    value: `${unexplained.length}${unexplained.length ? ` (e.g. ${unexplained.slice(0, 2).map((d) => `${d.subscriber} ×${d.copies.length}`).join(', ')})` : ''}`,
    limit: '0',
    ok: unexplained.length === 0,
  });

  // ── Per-entity order for ordered subscribers: first arrivals in the order the sender got its 200s ──
  let entities = 0;
  let outOfOrder = 0;
  let example = '';
  for (const s of subscribers.filter((x) => x.ordered)) {
    const firstArrival = new Map<string, number>();
    s.record.arrivals.forEach((a, i) => firstArrival.has(a.webhookId) || firstArrival.set(a.webhookId, i));
    for (const [key, ids] of input.order) {
      if (!key.startsWith(`${s.clinicId}/`)) continue;
      const wanted = ids.filter((id) => matches(s, accepted.get(id)!.eventName));
      if (wanted.length < 2) continue;
      entities++;
      const seen = [...wanted].sort((a, b) => (firstArrival.get(a) ?? Infinity) - (firstArrival.get(b) ?? Infinity));
      if (seen.some((id, i) => id !== wanted[i])) {
        outOfOrder++;
        if (!example) example = ` (e.g. ${s.name}: arrived as ${seen.map((id) => wanted.indexOf(id) + 1).join(',')})`;
      }
    }
  }
  checks.push({ check: 'ordered subscribers: entities whose changes arrived out of order', value: `${outOfOrder} of ${entities}${example}`, limit: '0', ok: outOfOrder === 0 });

  // ── max_in_flight, as the receivers counted requests under way ──
  const over = subscribers.filter((s) => s.record.maxInFlight > s.maxInFlight);
  const worst = [...subscribers].sort((a, b) => b.record.maxInFlight / b.maxInFlight - a.record.maxInFlight / a.maxInFlight)[0];
  checks.push({
    check: 'most requests under way at once / max_in_flight (worst subscriber)',
    value: worst ? `${worst.record.maxInFlight} / ${worst.maxInFlight} (${worst.name}); ${over.length} subscribers over` : '-',
    limit: '≤ max_in_flight',
    ok: over.length === 0,
  });

  // ── rate_limit_per_second: never above the rate, plus the bucket's one second of burst ──
  let rateWorst = '';
  let rateOver = 0;
  let closest = -Infinity;
  for (const s of subscribers.filter((x) => x.ratePerSecond)) {
    const excess = rateExcess(s.record.arrivals.map((a) => a.at), s.ratePerSecond!, input.stallsAround);
    if (excess.over > 0) rateOver++;
    if (excess.count - excess.allowed > closest) {
      closest = excess.count - excess.allowed;
      const stalls = excess.stallMs > 0 ? ` (stalls ${excess.stallMs} ms)` : '';
      rateWorst = `${s.name}: ${excess.count} requests in ${excess.spanMs} ms, allowed ${excess.allowed}${stalls}${excess.over > 0 ? `; gaps ${excess.gapsMs.join(',')} ms` : ''}`;
    }
  }
  checks.push({ check: 'rate-limited subscribers sending faster than their rate (+1 s burst)', value: `${rateOver}${rateWorst ? ` (closest window: ${rateWorst})` : ''}`, limit: '0', ok: rateOver === 0 });

  // ── Dead letters: exactly the always-failing subscriber's events, each once ──
  const failing = subscribers.filter((s) => s.failsForever);
  const expectedDead = new Set<string>();
  for (const e of accepted.values()) for (const s of failing) if (s.clinicId === e.clinicId && matches(s, e.eventName)) expectedDead.add(`${s.subscriberId}/${e.eventId}`);
  for (const key of dead.keys()) if (!expectedDead.has(key)) strayDeadLetters++;
  const twice = [...dead.values()].filter((n) => n > 1).length;
  checks.push({
    check: 'dead letters: the always-failing subscriber’s events, each once',
    value: `${input.deadLetters.length} rows for ${expectedDead.size} events; ${strayDeadLetters} of other deliveries; ${twice} twice`,
    limit: `${expectedDead.size}, 0, 0`,
    ok: input.deadLetters.length === expectedDead.size && strayDeadLetters === 0 && twice === 0 && [...expectedDead].every((k) => dead.has(k)),
  });

  return { checks, duplicates, expected, delivered, deadLettered, lost, crossTenant };
}

/**
 * The window of arrivals furthest above a token bucket of `perSecond` (capacity one second's worth):
 * over any span of d ms at most `capacity + perSecond × (d + slack) / 1000` may arrive. The slack is 500 ms
 * (a token is taken when Postgres grants it, its request leaves once the sender has read the answer, and
 * the arrival is stamped once the receiver has read the request) plus the stalls measured around the window
 * (`stallsAround`: a sender that stalls after its grant sends late what it was granted early, and a
 * receiver that stalls stamps together what arrived apart; on 2 shared cores with NATS servers and apps
 * being killed and restarted, either can last longer than the fixed slack: a window of 9 arrivals in
 * 719 ms, 8 allowed, had gaps of 0 ms). Three replicas each with their own bucket still show up (three
 * times the rate).
 */
const SLACK_MS = 500;

export function rateExcess(
  at: number[],
  perSecond: number,
  stallsAround: (from: number, to: number) => number = () => 0,
): { over: number; count: number; spanMs: number; allowed: number; stallMs: number; gapsMs: number[] } {
  const t = [...at].sort((a, b) => a - b);
  const capacity = Math.max(1, perSecond);
  let best = { over: -Infinity, count: 0, spanMs: 0, allowed: 0, stallMs: 0, gapsMs: [] as number[] };
  for (let i = 0; i < t.length; i++) {
    for (let j = i; j < t.length; j++) {
      const spanMs = t[j]! - t[i]!;
      const stallMs = Math.round(stallsAround(t[i]!, t[j]!));
      const allowed = Math.floor(capacity + (perSecond * (spanMs + SLACK_MS + stallMs)) / 1000);
      const count = j - i + 1;
      if (count - allowed > best.over) best = { over: count - allowed, count, spanMs, allowed, stallMs, gapsMs: t.slice(i + 1, j + 1).map((u, k) => u - t[i + k]!) };
    }
  }
  return { ...best, over: Math.max(0, best.over) };
}

/** The checks as a Markdown table. */
export function formatChecks(title: string, checks: Check[], notes: string[] = []): string {
  const head = ['check', 'value', 'limit', 'result'];
  const rows = checks.map((c) => [c.check, c.value, c.limit, c.ok ? 'ok' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return ['', title, ...notes, line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ''].join('\n');
}
