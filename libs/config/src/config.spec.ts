import { loadConfig, parseDuration, parseSchedule } from './index';

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
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ADMIN_TOKEN: is required[\s\S]*KEY_PEPPER/);
  });

  it('parses durations and schedules', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseSchedule('10ms, 20ms,1h')).toEqual([10, 20, 3_600_000]);
    expect(() => parseSchedule('')).toThrow(/empty/);
  });
});
