import { checkSubscriberHostResolves, ResolveAll, STRICT_URL_POLICY } from './index';

const answers =
  (list: string[], code?: string): ResolveAll =>
  (_host, _opts, cb) =>
    code ? cb(Object.assign(new Error(code), { code }), []) : cb(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));

describe('checkSubscriberHostResolves', () => {
  it('refuses a name that resolves to a blocked address, naming the host and address', async () => {
    await expect(
      checkSubscriberHostResolves(new URL('https://evil.example/hook'), STRICT_URL_POLICY, answers(['93.184.215.14', '10.0.0.7'])),
    ).resolves.toEqual({
      ok: false,
      reason: 'webhook_url host evil.example resolves to 10.0.0.7, a private network address, which is not allowed',
    });
  });

  it('resolves localhost for real and refuses it', async () => {
    await expect(checkSubscriberHostResolves(new URL('https://localhost/'), STRICT_URL_POLICY)).resolves.toMatchObject({
      ok: false,
      reason: expect.stringMatching(/loopback/),
    });
  });

  it('accepts public answers, unresolvable names (deliveries retry) and IP literals', async () => {
    const policy = STRICT_URL_POLICY;
    await expect(checkSubscriberHostResolves(new URL('https://ok.example/'), policy, answers(['2606:4700::1']))).resolves.toEqual({ ok: true });
    await expect(checkSubscriberHostResolves(new URL('https://nx.example/'), policy, answers([], 'ENOTFOUND'))).resolves.toEqual({ ok: true });
    await expect(checkSubscriberHostResolves(new URL('https://8.8.8.8/'), policy, answers(['127.0.0.1']))).resolves.toEqual({ ok: true });
  });
});
