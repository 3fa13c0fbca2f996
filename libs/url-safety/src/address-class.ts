import { Cidr, cidrContains, IpAddress, parseCidr, parseHostAddress } from './ip-address';

/** `public`, or why an address must not be a delivery target. */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unique-local'
  | 'site-local'
  | 'metadata'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmark'
  | 'reserved'
  | 'invalid';

type Rule = [Cidr, AddressClass];
const rules = (list: [string, AddressClass][]): Rule[] => list.map(([c, k]) => [parseCidr(c), k]);

/** First match wins, so single cloud-metadata addresses come before the ranges that contain them. */
const IPV4_RULES = rules([
  ['169.254.169.254', 'metadata'], // AWS, GCP, Azure, OpenStack, DigitalOcean…
  ['169.254.169.253', 'metadata'], // AWS VPC DNS
  ['169.254.170.2', 'metadata'], // AWS ECS task metadata
  ['100.100.100.200', 'metadata'], // Alibaba Cloud
  ['192.0.0.192', 'metadata'], // Oracle Cloud
  ['255.255.255.255', 'broadcast'],
  ['0.0.0.0/8', 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'], // 6to4 relay anycast (deprecated)
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmark'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

const IPV6_RULES = rules([
  ['fd00:ec2::254', 'metadata'], // AWS IMDS over IPv6
  ['fd20:ce::254', 'metadata'], // GCP metadata over IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['2001::/32', 'reserved'], // Teredo: the client's IPv4 is obfuscated, never a legitimate receiver
  ['2001:2::/48', 'benchmark'],
  ['2001:db8::/32', 'documentation'],
  ['2001::/23', 'reserved'], // IETF protocol assignments (ORCHID, AS112, …)
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'reserved'], // SRv6 SIDs
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);

const GLOBAL_UNICAST = parseCidr('2000::/3');
const MAPPED = parseCidr('::ffff:0:0/96');
const COMPATIBLE = parseCidr('::/96'); // deprecated IPv4-compatible (`::127.0.0.1`)
const NAT64 = parseCidr('64:ff9b::/96'); // RFC 6052 well-known prefix
const NAT64_LOCAL = parseCidr('64:ff9b:1::/48'); // RFC 8215 local-use prefix
const SIX_TO_FOUR = parseCidr('2002::/16');

const v4 = (value: bigint): IpAddress => ({ family: 4, value: value & 0xffffffffn });

/**
 * The IPv4 address an IPv6 address stands for, if it embeds one that a network on the path would reach:
 * IPv4-mapped and -compatible (`::ffff:127.0.0.1`, `::7f00:1`), NAT64 (last 32 bits), 6to4 (bits 16–47).
 * `strictEmbedding` marks prefixes with no legitimate public use, where an embedded public address still
 * does not make the whole address public.
 */
function embeddedIpv4(ip: IpAddress): { inner: IpAddress; strictEmbedding: boolean } | null {
  if (cidrContains(MAPPED, ip)) return { inner: v4(ip.value), strictEmbedding: false };
  if (cidrContains(NAT64, ip)) return { inner: v4(ip.value), strictEmbedding: false };
  if (cidrContains(SIX_TO_FOUR, ip)) return { inner: v4(ip.value >> 80n), strictEmbedding: false };
  if (cidrContains(NAT64_LOCAL, ip)) return { inner: v4(ip.value), strictEmbedding: true };
  if (cidrContains(COMPATIBLE, ip) && ip.value > 1n) return { inner: v4(ip.value), strictEmbedding: true };
  return null;
}

/** Classifies a parsed address; see `classifyAddress`. */
export function classifyIp(ip: IpAddress): AddressClass {
  if (ip.family === 4) return IPV4_RULES.find(([cidr]) => cidrContains(cidr, ip))?.[1] ?? 'public';
  const embedded = embeddedIpv4(ip);
  if (embedded) {
    const inner = classifyIp(embedded.inner);
    return inner === 'public' && embedded.strictEmbedding ? 'reserved' : inner;
  }
  const rule = IPV6_RULES.find(([cidr]) => cidrContains(cidr, ip));
  if (rule) return rule[1];
  // Everything outside 2000::/3 is unassigned or special-purpose (discard-only 100::/64, …).
  return cidrContains(GLOBAL_UNICAST, ip) ? 'public' : 'reserved';
}

/**
 * `'public'` for an address a delivery may connect to, otherwise why it may not. Accepts every spelling
 * `parseHostAddress` does (`127.1`, `[::ffff:7f00:1]`, `fe80::1%eth0`); a string that is no IP address is
 * `'invalid'` (fail closed).
 */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseHostAddress(ip);
  return parsed.kind === 'ip' ? classifyIp(parsed.ip) : 'invalid';
}

const DESCRIPTIONS: Record<AddressClass, string> = {
  public: 'a public address',
  unspecified: 'an unspecified address (0.0.0.0 / ::)',
  loopback: 'a loopback address',
  private: 'a private network address',
  'link-local': 'a link-local address',
  cgnat: 'a carrier-grade NAT (100.64.0.0/10) address',
  'unique-local': 'a unique-local IPv6 address (fc00::/7)',
  'site-local': 'a site-local IPv6 address (fec0::/10)',
  metadata: 'a cloud metadata service address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  documentation: 'a documentation-only address',
  benchmark: 'a benchmarking address (198.18.0.0/15 / 2001:2::/48)',
  reserved: 'a reserved or special-purpose address',
  invalid: 'not a valid IP address',
};

/** Human wording of a class, for error messages ("is a loopback address"). */
export function describeAddressClass(cls: AddressClass): string {
  return DESCRIPTIONS[cls];
}
