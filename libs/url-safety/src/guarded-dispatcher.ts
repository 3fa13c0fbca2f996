import type { LookupAddress } from 'node:dns';
import type { LookupFunction, Socket } from 'node:net';
import { Agent, buildConnector, Dispatcher } from 'undici';
import { BlockedAddressError } from './blocked-address.error';
import { parseHostAddress } from './ip-address';
import { ResolveAll, systemResolveAll } from './resolved-host';
import { AddressVerdict, checkAddress, compileAllowedCidrs, UrlPolicy } from './url-policy';

export interface GuardedDispatcherOptions {
  connectTimeoutMs: number;
  /** Defaults to `dns.lookup` (getaddrinfo: /etc/hosts, then DNS). */
  resolve?: ResolveAll;
  /** Other undici Agent options (keep-alive, connections per origin…). */
  agent?: Omit<Agent.Options, 'connect' | 'connectTimeout'>;
}

/**
 * An undici dispatcher that connects only to addresses the policy allows, checked on every new connection:
 * 1. IP-literal hosts are checked before connecting (Node never calls `lookup` for them);
 * 2. names are resolved here, once, and the connection is made to the checked answer, so DNS rebinding
 *    between check and connect is impossible. If ANY answer is blocked the host is refused: a name that
 *    mixes public and internal addresses is an attack or a misconfiguration, and happy-eyeballs would
 *    otherwise pick either;
 * 3. after connecting, the socket's remote address is checked again (defence in depth) and the socket is
 *    destroyed if it is blocked.
 * Refusals fail the request with `BlockedAddressError` (code `ERR_BLOCKED_ADDRESS`).
 * It has no redirect interceptor: a 3xx is returned as a response and its Location is never followed
 * (undici 7 rejects a non-zero `maxRedirections` on plain requests). Close it with `close()`.
 */
export function createGuardedDispatcher(policy: UrlPolicy, options: GuardedDispatcherOptions): Dispatcher {
  const cidrs = compileAllowedCidrs(policy); // throws on a bad CIDR: fail at start-up, not per delivery
  const check = (address: string) => checkAddress(address, policy, cidrs);
  const resolve = options.resolve ?? systemResolveAll;

  const guardedLookup = ((hostname, opts, callback) => {
    resolve(hostname, { all: true, family: opts.family as number | undefined, hints: opts.hints }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      }
      for (const { address } of addresses) {
        const verdict = check(address);
        if (!verdict.allowed) return callback(new BlockedAddressError(hostname, verdict.address, verdict.addressClass), '', 0);
      }
      // Node asks for `all` when it races address families (autoSelectFamily), else for one address.
      if (opts.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  }) as LookupFunction;

  const connectSocket = buildConnector({ timeout: options.connectTimeoutMs, lookup: guardedLookup });

  const connect: buildConnector.connector = (opts, callback) => {
    const host = parseHostAddress(opts.hostname);
    if (host.kind !== 'name') {
      const verdict = check(opts.hostname);
      if (!verdict.allowed) return callback(new BlockedAddressError(opts.hostname, verdict.address, verdict.addressClass), null);
    }
    connectSocket(opts, (err, socket) => {
      if (err) return callback(err, null);
      const blocked = refuseBlockedPeer(socket, opts.hostname, check);
      return blocked ? callback(blocked, null) : callback(null, socket);
    });
  };

  return new Agent({ ...options.agent, connect });
}

/**
 * The last check, on the connected socket: destroys it and returns the error if its remote address is not
 * allowed (or unknown). Unreachable through the checks above unless something rewrites the destination
 * (a proxy, a Node change in when `lookup` is called), which is exactly when it matters. Exported for tests.
 */
export function refuseBlockedPeer(socket: Socket, hostname: string, check: (address: string) => AddressVerdict) {
  const remote = socket.remoteAddress ?? '';
  const verdict = check(remote);
  if (verdict.allowed) return null;
  const blocked = new BlockedAddressError(hostname, remote || 'unknown', verdict.addressClass);
  socket.destroy(blocked);
  return blocked;
}
