import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { describeAddressClass } from './address-class';
import { parseHostAddress } from './ip-address';
import { checkAddress, compileAllowedCidrs, UrlPolicy } from './url-policy';

/** `dns.lookup` with `all: true`; injectable so tests can play a rebinding resolver. */
export type ResolveAll = (
  hostname: string,
  options: { all: true; family?: number; hints?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** getaddrinfo: /etc/hosts, then DNS — what a plain connection would use. */
export const systemResolveAll: ResolveAll = (host, options, callback) => dnsLookup(host, options, callback);

/**
 * Registration-time DNS check of a URL that passed `validateSubscriberUrl`: refuses it if its name resolves
 * to any blocked address now. A name that does not resolve (yet) is accepted: deliveries will fail and retry.
 * This is a courtesy for a clear 400; the guarded dispatcher re-checks on every connection regardless.
 */
export async function checkSubscriberHostResolves(
  url: URL,
  policy: UrlPolicy,
  resolve: ResolveAll = systemResolveAll,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const host = parseHostAddress(url.hostname);
  if (host.kind !== 'name') return { ok: true }; // IP literals were checked by validateSubscriberUrl
  const addresses = await new Promise<LookupAddress[]>((done) => resolve(host.name, { all: true }, (err, a) => done(err ? [] : a)));
  const cidrs = compileAllowedCidrs(policy);
  for (const { address } of addresses) {
    const verdict = checkAddress(address, policy, cidrs);
    if (!verdict.allowed) {
      return {
        ok: false,
        reason: `webhook_url host ${host.name} resolves to ${verdict.address}, ${describeAddressClass(verdict.addressClass)}, which is not allowed`,
      };
    }
  }
  return { ok: true };
}
