import { parseCidr, parseHostAddress } from './index';

/** What Node's WHATWG URL parser makes of a host, without brackets. */
const urlHost = (host: string) => new URL(`http://${host}/`).hostname.replace(/^\[|\]$/g, '');

describe('parseHostAddress', () => {
  const spellings: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F000001', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7F.0.0.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['00000177.0.0.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['127.1.', '127.0.0.1'],
    ['0x.0x.0x.0x', '0.0.0.0'],
    ['0', '0.0.0.0'],
    ['4294967295', '255.255.255.255'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['::FFFF:127.0.0.1', '::ffff:7f00:1'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['0:0:0:0:0:ffff:7f00:1', '::ffff:7f00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first longest zero run
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'], // a single zero group is not compressed
    ['::', '::'],
  ];

  it.each(spellings)('reads %s as %s, as new URL() does', (host, expected) => {
    const parsed = parseHostAddress(host);
    expect(parsed).toMatchObject({ kind: 'ip', address: expected });
    expect(urlHost(host.startsWith(':') || /^[0-9a-f]*:/i.test(host) ? `[${host}]` : host)).toBe(expected);
  });

  it('ignores an IPv6 zone id (which new URL() refuses)', () => {
    expect(parseHostAddress('fe80::1%eth0')).toMatchObject({ kind: 'ip', address: 'fe80::1' });
    expect(parseHostAddress('[fe80::1%25eth0]')).toMatchObject({ kind: 'ip', address: 'fe80::1' });
    expect(() => new URL('http://[fe80::1%25eth0]/')).toThrow();
  });

  // Numeric-looking hosts that are no IPv4 address: the URL parser refuses them too.
  it.each(['1.2.3.08', '256.1.1.1', '1.2.3.4.5', '0x100000000', '1.2.3.0x100', '1.16777216', '0x7g.1', '1.2.3.4.'.repeat(2)])(
    '%s is an invalid host, as for new URL()',
    (host) => {
      expect(parseHostAddress(host)).toEqual({ kind: 'invalid' });
      expect(() => new URL(`http://${host}/`)).toThrow();
    },
  );

  it.each(['::ffff:127.1', ':::1', '1::2::3', ''])('%j is an invalid host', (host) => {
    expect(parseHostAddress(host)).toEqual({ kind: 'invalid' });
  });

  it('reads the 3-part form with a 16-bit last part, as new URL() does', () => {
    expect(parseHostAddress('1.2.0x100')).toMatchObject({ kind: 'ip', address: '1.2.1.0' });
    expect(urlHost('1.2.0x100')).toBe('1.2.1.0');
  });

  it.each([
    ['example.com', 'example.com'],
    ['Example.COM.', 'example.com'],
    ['localhost', 'localhost'],
    ['localhost.', 'localhost'],
    ['1.2.3.4x', '1.2.3.4x'],
    ['127.0.0.1..', '127.0.0.1.'], // a domain with an empty label for URL too; the validator refuses it
    ['127.0.0.1.nip.io', '127.0.0.1.nip.io'],
  ])('%s is the name %s', (host, name) => {
    expect(parseHostAddress(host)).toEqual({ kind: 'name', name });
  });
});

describe('parseCidr', () => {
  it('parses IPv4, IPv6 and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, base: 0x0a000000n, prefix: 8 });
    expect(parseCidr(' fd00::/8 ')).toEqual({ family: 6, base: 0xfdn << 120n, prefix: 8 });
    expect(parseCidr('192.168.1.10')).toMatchObject({ family: 4, prefix: 32 });
  });

  it.each(['10.0.0.0/33', '::/129', '10.0.0.0/x', '10.0.0.0/8/8', 'example.com/8', '10.0.0.0/', ''])('refuses %j', (text) => {
    expect(() => parseCidr(text)).toThrow(/CIDR|prefix/);
  });
});
