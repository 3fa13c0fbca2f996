import { MAX_CLAIM_LEASE_MS, fanoutDrainMs, loadConfig, longestAttemptMs, parseDuration, parseSchedule, senderRetrySpanMs } from './index';

describe('config', () => {
  it('defaults to the loopback services and Nimbus retry schedule', () => {
    const c = loadConfig({});
    expect(c.INGRESS_PORT).toBe(8080);
    expect(c.ADMIN_PORT).toBe(8081);
    expect(c.DEDUPE_GRPC_PORT).toBe(50051);
    expect(c.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(c.RETRY_SCHEDULE).toEqual([60_000, 300_000, 900_000, 3_600_000]);
    expect(c.DELIVERY_TIMEOUT).toBe(10_000);
    expect(c.DEDUPE_TTL).toBe(24 * 3_600_000);
    expect(c.INGRESS_BODY_LIMIT).toBe(256 * 1024);
    expect(c.INGRESS_REQUEST_TIMEOUT).toBe(10_000);
    expect(c.ALLOW_INSECURE_SUBSCRIBER_URLS).toBe(false);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ INGRESS_PORT: 'http', RETRY_SCHEDULE: '1m,soon' })).toThrow(
      /INGRESS_PORT[\s\S]*RETRY_SCHEDULE: "soon" is not a duration/,
    );
  });

  it('requires real secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ADMIN_TOKEN: is required[\s\S]*KEY_PEPPER: is required[\s\S]*SECRETS_KEYS: is required/);
  });

  it('refuses a DEDUPE_LEASE longer than the dedupe service takes', () => {
    expect(loadConfig({ DEDUPE_LEASE: '1h' }).DEDUPE_LEASE).toBe(MAX_CLAIM_LEASE_MS);
    expect(() => loadConfig({ DEDUPE_LEASE: '61m' })).toThrow(/DEDUPE_LEASE: must be at most 1h/);
  });

  it('parses durations and schedules', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseSchedule('10ms, 20ms,1h')).toEqual([10, 20, 3_600_000]);
    expect(() => parseSchedule('')).toThrow(/empty/);
  });

  it("bounds a stopping fan-out's drain by the longest attempt any subscriber may have", () => {
    // An operator may raise a clinic's ceiling to 30 s (half of the 60 s lease), above CLINIC_MAX_TIMEOUT.
    expect(longestAttemptMs(loadConfig({}))).toBe(30_000);
    expect(fanoutDrainMs(loadConfig({}))).toBe(30_000 + 500 + 2_000);
    // A shorter lease caps what an operator may set; the default ceiling stays the floor.
    expect(longestAttemptMs(loadConfig({ DELIVERY_LEASE: '20s', DELIVERY_TIMEOUT: '5s', CLINIC_MAX_TIMEOUT: '5s' }))).toBe(10_000);
    expect(longestAttemptMs(loadConfig({ DELIVERY_LEASE: '2m', CLINIC_MAX_TIMEOUT: '45s' }))).toBe(30_000);
  });

  describe('refuses combinations that break a guarantee', () => {
    // svix-webhooks PR #2181: a lease that runs out while the HTTP attempt is still under way lets a
    // second worker take the delivery, and the receiver gets it twice.
    it('a delivery lease shorter than twice the delivery timeout (double delivery, svix-webhooks #2181)', () => {
      expect(() => loadConfig({ DELIVERY_TIMEOUT: '10s', DELIVERY_LEASE: '15s' })).toThrow(
        /DELIVERY_LEASE: must be at least twice the longest attempt \(DELIVERY_TIMEOUT 10000 ms/,
      );
      expect(() => loadConfig({ DELIVERY_TIMEOUT: '10s', DELIVERY_LEASE: '30s' })).not.toThrow();
      expect(() => loadConfig({ DELIVERY_TIMEOUT: '10s', DELIVERY_LEASE: '29999ms' })).toThrow(/DELIVERY_LEASE/);
    });

    it('a delivery lease shorter than twice the longest timeout a subscriber may set (CLINIC_MAX_TIMEOUT)', () => {
      expect(() => loadConfig({ CLINIC_MAX_TIMEOUT: '25s', DELIVERY_LEASE: '40s' })).toThrow(/DELIVERY_LEASE: [^\n]*CLINIC_MAX_TIMEOUT 25000 ms/);
      expect(() => loadConfig({ CLINIC_MAX_TIMEOUT: '25s', DELIVERY_LEASE: '50s' })).not.toThrow();
    });

    it("a DEDUPE_TTL shorter than the sender's retry span (a late Nimbus retry would be a new event)", () => {
      const nimbus = senderRetrySpanMs([60_000, 300_000, 900_000, 3_600_000]);
      expect(nimbus).toBe(81 * 60_000 + 5 * 5_000);
      expect(() => loadConfig({ DEDUPE_TTL: '81m' })).toThrow(/DEDUPE_TTL: must be at least the sender's retry span \(4885000 ms/);
      expect(() => loadConfig({ DEDUPE_TTL: '4885000ms' })).not.toThrow();
      expect(() => loadConfig({ DEDUPE_TTL: '2m', SENDER_RETRY_SCHEDULE: '10s,20s' })).not.toThrow();
      expect(() => loadConfig({ DEDUPE_TTL: '30s', SENDER_RETRY_SCHEDULE: '10s,20s' })).toThrow(/DEDUPE_TTL/);
    });

    it('defaults above their own ceilings', () => {
      expect(() => loadConfig({ CLINIC_MAX_TIMEOUT: '5s' })).toThrow(/CLINIC_MAX_TIMEOUT: must be at least DELIVERY_TIMEOUT \(10000 ms\)/);
      expect(() => loadConfig({ CLINIC_MAX_IN_FLIGHT: '5' })).toThrow(/CLINIC_MAX_IN_FLIGHT: must be at least DELIVERY_MAX_IN_FLIGHT_PER_SUBSCRIBER \(10\)/);
    });
  });

  describe('SECRETS_KEYS', () => {
    const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

    it('has a development key when not in production, and takes the only key as the active one', () => {
      expect(loadConfig({}).SECRETS_KEYS).toEqual([{ id: 'dev', key: expect.any(String) }]);
      expect(loadConfig({}).SECRETS_ACTIVE_KEY).toBe('dev');
      const c = loadConfig({ SECRETS_KEYS: `k1:${key(1)}` });
      expect(c.SECRETS_KEYS).toEqual([{ id: 'k1', key: key(1) }]);
      expect(c.SECRETS_ACTIVE_KEY).toBe('k1');
    });

    it('needs the active key named when it holds several, and named among them', () => {
      expect(() => loadConfig({ SECRETS_KEYS: `k1:${key(1)},k2:${key(2)}` })).toThrow(/SECRETS_ACTIVE_KEY: is required when SECRETS_KEYS holds more than one key/);
      expect(() => loadConfig({ SECRETS_KEYS: `k1:${key(1)},k2:${key(2)}`, SECRETS_ACTIVE_KEY: 'k3' })).toThrow(/SECRETS_ACTIVE_KEY: "k3" is not a key id/);
      expect(loadConfig({ SECRETS_KEYS: `k1:${key(1)}, k2:${key(2)}`, SECRETS_ACTIVE_KEY: 'k2' }).SECRETS_ACTIVE_KEY).toBe('k2');
    });

    it.each([
      ['a key of 16 bytes', `k1:${Buffer.alloc(16).toString('base64')}`, /must be 32 random bytes/],
      ['no key id', key(1), /kid:base64key/],
      ['a key id with a space', `my key:${key(1)}`, /kid:base64key/],
      ['a key id twice', `k1:${key(1)},k1:${key(2)}`, /listed twice/],
      ['not base64', `k1:${'!'.repeat(44)}`, /must be 32 random bytes/],
      ['nothing', ' , ', /lists no key/],
    ])('refuses %s, without echoing the key', (_what, value, message) => {
      let error: Error | undefined;
      try {
        loadConfig({ SECRETS_KEYS: value });
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).toMatch(message);
      expect(error?.message).toMatch(/SECRETS_KEYS/);
      expect(error?.message).not.toContain(key(1));
    });
  });
});
