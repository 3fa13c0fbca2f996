/** SSRF guard for subscriber URLs: address classification, URL validation, and a guarded undici dispatcher. */
export { classifyAddress, describeAddressClass } from './address-class';
export type { AddressClass } from './address-class';
export { BlockedAddressError, ERR_BLOCKED_ADDRESS, isBlockedAddressError } from './blocked-address.error';
export { createGuardedDispatcher } from './guarded-dispatcher';
export type { GuardedDispatcherOptions } from './guarded-dispatcher';
export { parseCidr, parseHostAddress } from './ip-address';
export type { HostAddress } from './ip-address';
export { checkSubscriberHostResolves, systemResolveAll } from './resolved-host';
export type { ResolveAll } from './resolved-host';
export { MAX_SUBSCRIBER_URL_LENGTH, validateSubscriberUrl } from './subscriber-url';
export type { SubscriberUrlResult } from './subscriber-url';
export { checkAddress, compileAllowedCidrs, STRICT_URL_POLICY } from './url-policy';
export type { AddressVerdict, UrlPolicy } from './url-policy';
