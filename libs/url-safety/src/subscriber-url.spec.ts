import { STRICT_URL_POLICY, UrlPolicy, validateSubscriberUrl } from './index';

const DEV: UrlPolicy = { allowInsecure: true, allowedCidrs: [] };

const reasonOf = (raw: string, policy: UrlPolicy = STRICT_URL_POLICY) => {
  const result = validateSubscriberUrl(raw, policy);
  return result.ok ? 'ok' : result.reason;
};

describe('validateSubscriberUrl (strict policy)', () => {
  const refused: [string, RegExp][] = [
    // IP literals in every spelling the URL parser accepts
    ['https://127.0.0.1/hook', /127\.0\.0\.1 is a loopback address/],
    ['https://127.1/hook', /loopback/],
    ['https://127.0.1/hook', /loopback/],
    ['https://2130706433/hook', /loopback/],
    ['https://0x7f000001/hook', /loopback/],
    ['https://0x7f.1/hook', /loopback/],
    ['https://0177.0.0.1/hook', /loopback/],
    ['https://017700000001/hook', /loopback/],
    ['https://127.0.0.1./hook', /loopback/],
    ['https://127.0.0.1:8443/hook', /loopback/],
    ['https://%31%32%37.0.0.1/hook', /loopback/], // percent-encoded host
    ['https://１２７.0.0.1/hook', /loopback/], // full-width digits (IDNA maps them)
    ['https://127。0。0。1/hook', /loopback/], // ideographic full stops
    ['https://0/hook', /unspecified/],
    ['https://0.0.0.0/hook', /unspecified/],
    ['https://10.0.0.5/hook', /private/],
    ['https://0xa.0.0.5/hook', /private/],
    ['https://172.16.3.4/hook', /private/],
    ['https://192.168.0.10/hook', /private/],
    ['https://3232235530/hook', /private/],
    ['https://100.64.1.1/hook', /carrier-grade NAT/],
    ['https://169.254.1.1/hook', /link-local/],
    ['https://169.254.169.254/latest/meta-data/', /metadata/],
    ['https://0xa9fea9fe/', /metadata/],
    ['https://100.100.100.200/', /metadata/],
    ['https://224.0.0.1/', /multicast/],
    ['https://255.255.255.255/', /broadcast/],
    ['https://192.0.2.1/', /documentation/],
    ['https://198.18.0.1/', /benchmark/],
    ['https://240.0.0.1/', /reserved/],
    ['https://[::1]/hook', /loopback/],
    ['https://[0:0:0:0:0:0:0:1]/hook', /loopback/],
    ['https://[::]/hook', /unspecified/],
    ['https://[::ffff:127.0.0.1]/hook', /::ffff:7f00:1 is a loopback address/],
    ['https://[::ffff:7f00:1]/hook', /loopback/],
    ['https://[::FFFF:7F00:1]/hook', /loopback/],
    ['https://[::127.0.0.1]/hook', /loopback/],
    ['https://[64:ff9b::127.0.0.1]/hook', /loopback/],
    ['https://[64:ff9b::a9fe:a9fe]/hook', /metadata/],
    ['https://[64:ff9b:1::a00:1]/hook', /private/],
    ['https://[2002:7f00:1::1]/hook', /loopback/],
    ['https://[2002:a9fe:a9fe::]/hook', /metadata/],
    ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /reserved/], // Teredo
    ['https://[fe80::1]/hook', /link-local/],
    ['https://[fec0::1]/hook', /site-local/],
    ['https://[fd00::1]/hook', /unique-local/],
    ['https://[fd00:ec2::254]/', /metadata/],
    ['https://[ff02::1]/', /multicast/],
    ['https://[2001:db8::1]/', /documentation/],
    ['https://[fe80::1%25eth0]/hook', /not a valid absolute URL/], // zone ids are not URL syntax
    // internal names
    ['https://localhost/hook', /single-label/],
    ['https://LOCALHOST/hook', /single-label/],
    ['https://localhost./hook', /single-label/],
    ['https://api.localhost/hook', /internal name \(\.localhost\)/],
    ['https://printer.local/hook', /internal name \(\.local\)/],
    ['https://svc.cluster.local/hook', /\.local/],
    ['https://db.internal/hook', /\.internal/],
    ['https://metadata.google.internal/computeMetadata/v1/', /cloud metadata service/],
    ['https://metadata/computeMetadata/v1/', /cloud metadata service/],
    ['https://router.home.arpa/', /\.home\.arpa/],
    ['https://intranet/hook', /single-label/],
    ['https://a..b.com/hook', /invalid host name/],
    ['https://127.0.0.1../hook', /invalid host name/],
    ['https://ex!ample.com/hook', /invalid host name/],
    ['https://1.2.3.08/hook', /not a valid absolute URL/],
    // scheme, userinfo, control characters, fragment, length, shape
    ['http://example.com/hook', /must start with https:\/\//],
    ['ftp://example.com/hook', /must start with https:\/\//],
    ['file:///etc/passwd', /must start with https:\/\//],
    ['javascript:alert(1)', /must start with https:\/\//],
    ['gopher://example.com:25/', /must start with https:\/\//],
    ['https://user:hunter2@example.com/hook', /must not contain credentials/],
    ['https://user@example.com/hook', /must not contain credentials/],
    ['https://:hunter2@example.com/hook', /must not contain credentials/],
    ['https://example.com/hook\r\nX-Injected: 1', /control characters/],
    ['https://exa\nmple.com/hook', /control characters/],
    ['https://example.com/ho\tok', /control characters/],
    ['https://example.com/\u0000', /control characters/],
    ['https://example.com/\u0085', /control characters/],
    [' https://example.com/hook', /leading or trailing spaces/],
    ['https://example.com/hook#section', /fragment/],
    ['https://example.com/hook#', /fragment/],
    [`https://example.com/${'a'.repeat(2048)}`, /longer than 2048/],
    ['/relative/path', /not a valid absolute URL/],
    ['example.com/hook', /not a valid absolute URL/],
    ['https://', /not a valid absolute URL/],
    ['', /is required/],
  ];

  it.each(refused)('refuses %j', (raw, reason) => {
    expect(reasonOf(raw)).toMatch(reason);
  });

  it('never echoes credentials, query secrets or the URL itself', () => {
    for (const raw of [
      'https://admin:s3cr3t-pass@127.0.0.1/hook?token=tok-123',
      'http://admin:s3cr3t-pass@example.com/?token=tok-123',
      'https://admin:s3cr3t-pass@example.com/?token=tok-123',
      'https://example.com/?token=tok-123#s3cr3t-pass',
    ]) {
      const reason = reasonOf(raw);
      expect(reason).not.toBe('ok');
      expect(reason).not.toMatch(/s3cr3t|tok-123|admin/);
    }
  });

  it.each([
    ['https://example.com/hook', 'https://example.com/hook'],
    ['https://Example.COM:8443/a/b?x=1&y=2', 'https://example.com:8443/a/b?x=1&y=2'],
    ['https://example.com./hook', 'https://example.com./hook'],
    ['https://8.8.8.8/hook', 'https://8.8.8.8/hook'],
    ['https://134744072/hook', 'https://8.8.8.8/hook'],
    ['https://[2606:4700:4700::1111]/hook', 'https://[2606:4700:4700::1111]/hook'],
    ['https://[::ffff:8.8.8.8]/hook', 'https://[::ffff:808:808]/hook'],
    ['https://[64:ff9b::8.8.8.8]/hook', 'https://[64:ff9b::808:808]/hook'],
    ['https://bücher.example/hook', 'https://xn--bcher-kva.example/hook'],
    ['https://hooks.my_team.example.com/x', 'https://hooks.my_team.example.com/x'],
    ['https://localhost.example.com/hook', 'https://localhost.example.com/hook'],
    ['https://example.com/a b', 'https://example.com/a%20b'],
  ])('accepts %j as %s', (raw, href) => {
    const result = validateSubscriberUrl(raw, STRICT_URL_POLICY);
    expect(result).toEqual({ ok: true, url: expect.any(URL) });
    expect(result.ok && result.url.href).toBe(href);
  });
});

describe('validateSubscriberUrl (allowInsecure, for local development)', () => {
  it.each([
    'http://127.0.0.1:3000/hook',
    'http://127.1:3000/hook',
    'http://localhost:3000/hook',
    'http://receiver:8080/hook', // docker compose service name
    'http://10.0.0.5/hook',
    'https://192.168.1.20/hook',
    'http://[::1]:3000/hook',
    'http://[fd00::5]/hook',
    'http://100.64.0.9/hook',
    'http://printer.local/hook',
    'http://example.com/hook',
  ])('accepts %s', (raw) => {
    expect(reasonOf(raw, DEV)).toBe('ok');
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://[::ffff:169.254.169.254]/', /metadata/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://metadata.google.internal/', /metadata/],
    ['http://0.0.0.0:3000/', /unspecified/],
    ['http://169.254.1.1/', /link-local/],
    ['http://224.0.0.1/', /multicast/],
    ['ftp://127.0.0.1/', /https:\/\/ or http:\/\//],
    ['http://user:pw@127.0.0.1/', /credentials/],
  ])('still refuses %s', (raw, reason) => {
    expect(reasonOf(raw, DEV)).toMatch(reason);
  });
});

describe('validateSubscriberUrl (allowedCidrs)', () => {
  const mesh: UrlPolicy = { allowInsecure: false, allowedCidrs: ['10.20.0.0/16', ' fd00:1::/32', ''] };

  it('allows listed blocks in strict mode, and nothing else', () => {
    expect(reasonOf('https://10.20.3.4/hook', mesh)).toBe('ok');
    expect(reasonOf('https://[::ffff:10.20.3.4]/hook', mesh)).toBe('ok');
    expect(reasonOf('https://[fd00:1::7]/hook', mesh)).toBe('ok');
    expect(reasonOf('https://10.21.0.1/hook', mesh)).toMatch(/private/);
    expect(reasonOf('https://127.0.0.1/hook', mesh)).toMatch(/loopback/);
    expect(reasonOf('http://10.20.3.4/hook', mesh)).toMatch(/https/);
  });

  it('never allows metadata addresses, even inside a listed block', () => {
    expect(reasonOf('https://169.254.169.254/', { allowInsecure: false, allowedCidrs: ['169.254.0.0/16'] })).toMatch(/metadata/);
    expect(reasonOf('https://169.254.1.1/', { allowInsecure: false, allowedCidrs: ['169.254.0.0/16'] })).toBe('ok');
  });

  it('throws on a malformed CIDR (a configuration error, not a client error)', () => {
    expect(() => validateSubscriberUrl('https://10.0.0.1/', { allowInsecure: false, allowedCidrs: ['10.0.0.0/40'] })).toThrow(/prefix/);
  });
});
