import { AddressClass, classifyIp } from './address-class';
import { Cidr, cidrContains, IpAddress, parseCidr, parseHostAddress } from './ip-address';

/**
 * Where subscriber URLs may point. Strict by default (`STRICT_URL_POLICY`); from config:
 * `{ allowInsecure: ALLOW_INSECURE_SUBSCRIBER_URLS, allowedCidrs: SUBSCRIBER_ALLOWED_CIDRS.split(',') }`.
 */
export interface UrlPolicy {
  /** Local development: allow `http://` and loopback / private / unique-local / CGNAT addresses and names. */
  allowInsecure: boolean;
  /** Address blocks allowed even in strict mode (e.g. a mesh-internal receiver). Empty entries are ignored. */
  allowedCidrs: string[];
}

export const STRICT_URL_POLICY: UrlPolicy = Object.freeze({ allowInsecure: false, allowedCidrs: [] as string[] });

/** The classes `allowInsecure` lets through. Metadata, unspecified, multicast and the like stay blocked. */
const DEV_CLASSES: ReadonlySet<AddressClass> = new Set<AddressClass>(['loopback', 'private', 'unique-local', 'cgnat']);

/** Never allowed, whatever the policy says: a listed CIDR like 169.254.0.0/16 must not expose credentials. */
const NEVER_ALLOWED: ReadonlySet<AddressClass> = new Set<AddressClass>(['metadata', 'invalid']);

export type AddressVerdict =
  | { allowed: true; address: string; addressClass: AddressClass }
  | { allowed: false; address: string; addressClass: AddressClass };

/** Parses the policy's CIDRs once; throws naming the bad entry (validate config with it at boot). */
export function compileAllowedCidrs(policy: UrlPolicy): Cidr[] {
  return policy.allowedCidrs.map((c) => c.trim()).filter(Boolean).map(parseCidr);
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address for CIDR matching. */
function unmapped(ip: IpAddress): IpAddress {
  const isMapped = ip.family === 6 && ip.value >> 32n === 0xffffn;
  return isMapped ? { family: 4, value: ip.value & 0xffffffffn } : ip;
}

/** Decides whether a delivery may connect to `address` (any spelling) under `policy`. */
export function checkAddress(address: string, policy: UrlPolicy, cidrs = compileAllowedCidrs(policy)): AddressVerdict {
  const parsed = parseHostAddress(address);
  if (parsed.kind !== 'ip') return { allowed: false, address, addressClass: 'invalid' };
  const addressClass = classifyIp(parsed.ip);
  const canonical = parsed.address;
  if (addressClass === 'public') return { allowed: true, address: canonical, addressClass };
  if (NEVER_ALLOWED.has(addressClass)) return { allowed: false, address: canonical, addressClass };
  const ip = unmapped(parsed.ip);
  const allowed = (policy.allowInsecure && DEV_CLASSES.has(addressClass)) || cidrs.some((c) => cidrContains(c, ip));
  return { allowed, address: canonical, addressClass };
}
