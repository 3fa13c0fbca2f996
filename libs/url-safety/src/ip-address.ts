import { isIPv6 } from 'node:net';

/** An IP address as a number: 32 bits for IPv4, 128 bits for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/**
 * What a host string is:
 * - `ip`: an IP literal in any spelling, with its canonical text (`127.0.0.1`, `::ffff:7f00:1`);
 * - `name`: a domain name (lower-cased, one trailing dot removed);
 * - `invalid`: looks numeric (WHATWG "ends in a number") but is no valid IPv4, e.g. `1.2.3.08`, `256.1.1.1`.
 */
export type HostAddress =
  | { kind: 'ip'; ip: IpAddress; address: string }
  | { kind: 'name'; name: string }
  | { kind: 'invalid' };

/**
 * Classifies a host string the way the WHATWG URL host parser (and glibc's inet_aton, which accepts the
 * same numeric forms) would read it: `127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.0.0.1.` are all
 * 127.0.0.1. IPv6 may be bracketed and may carry a zone id (`fe80::1%eth0`), which is ignored.
 * Percent-decoding and IDNA (full-width digits, `。`) are left to `new URL()`, which callers parse with first.
 */
export function parseHostAddress(host: string): HostAddress {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.includes(':')) {
    const ip = parseIpv6(h);
    return ip ? { kind: 'ip', ip, address: formatIp(ip) } : { kind: 'invalid' };
  }
  const v4 = parseIpv4(h);
  if (v4 === 'not-ipv4') {
    return h === '' || h === '.' ? { kind: 'invalid' } : { kind: 'name', name: h.endsWith('.') ? h.slice(0, -1) : h };
  }
  if (v4 === 'invalid') return { kind: 'invalid' };
  const ip: IpAddress = { family: 4, value: BigInt(v4) };
  return { kind: 'ip', ip, address: formatIp(ip) };
}

/** Parses one IPv4 part as WHATWG does: `0x` → hex (`0x` alone is 0), leading `0` → octal, else decimal. */
function parseIpv4Number(part: string): number | null {
  if (/^0x/.test(part)) {
    const digits = part.slice(2);
    if (digits === '') return 0;
    return /^[0-9a-f]+$/.test(digits) ? parseInt(digits, 16) : null;
  }
  if (part.length > 1 && part.startsWith('0')) return /^[0-7]+$/.test(part) ? parseInt(part, 8) : null;
  return /^[0-9]+$/.test(part) ? parseInt(part, 10) : null;
}

/** The WHATWG URL IPv4 parser (https://url.spec.whatwg.org/#concept-ipv4-parser) with its "ends in a number" gate. */
function parseIpv4(host: string): number | 'not-ipv4' | 'invalid' {
  const parts = host.split('.');
  if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop(); // one trailing dot is allowed
  const last = parts[parts.length - 1];
  const endsInNumber = /^[0-9]+$/.test(last) || (/^0x/.test(last) && parseIpv4Number(last) !== null);
  if (!endsInNumber) return 'not-ipv4';
  if (parts.length > 4) return 'invalid';
  const numbers = parts.map(parseIpv4Number);
  if (numbers.some((n) => n === null)) return 'invalid';
  const ns = numbers as number[];
  // Every part but the last is one byte; the last fills the remaining bytes (`127.1` = 127.0.0.1).
  if (ns.slice(0, -1).some((n) => n > 255)) return 'invalid';
  if (ns[ns.length - 1] >= 256 ** (5 - ns.length)) return 'invalid';
  let value = ns[ns.length - 1];
  ns.slice(0, -1).forEach((n, i) => (value += n * 256 ** (3 - i)));
  return value;
}

/** Parses an IPv6 address (zone id ignored, trailing dotted quad allowed); null if it is not one. */
function parseIpv6(text: string): IpAddress | null {
  const h = text.split('%')[0];
  if (!isIPv6(h)) return null;
  let groups = h;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted) {
    const [a, b, c, d] = dotted[2].split('.').map(Number);
    groups = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = groups.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - headParts.length - tailParts.length).fill('0');
  const hextets = [...headParts, ...fill, ...tailParts];
  if (hextets.length !== 8) return null;
  const value = hextets.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  return { family: 6, value };
}

/** Canonical text: dotted IPv4; IPv6 as the WHATWG URL serializer writes it (first longest zero run compressed). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((ip.value >> s) & 0xffn).toString()).join('.');
  }
  const hextets = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt((7 - i) * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && hextets[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = hextets.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** A CIDR block; a bare address is a /32 or /128. */
export interface Cidr {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a bare address; throws a clear error on anything else. */
export function parseCidr(text: string): Cidr {
  const [addr, prefixText, extra] = text.trim().split('/');
  const parsed = parseHostAddress(addr);
  if (extra !== undefined || parsed.kind !== 'ip') throw new Error(`"${text}" is not a CIDR block`);
  const bits = parsed.ip.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? '0') || prefix > bits) throw new Error(`"${text}" has an invalid prefix length`);
  return { family: parsed.ip.family, base: parsed.ip.value, prefix };
}

/** True if `ip` lies inside `cidr` (families must match; callers unwrap IPv4-mapped addresses first). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const shift = BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix);
  return ip.value >> shift === cidr.base >> shift;
}
