import { AddressClass, describeAddressClass } from './address-class';

export const ERR_BLOCKED_ADDRESS = 'ERR_BLOCKED_ADDRESS';

/** A delivery connection was refused because the target address is not allowed by the URL policy. */
export class BlockedAddressError extends Error {
  readonly code = ERR_BLOCKED_ADDRESS;

  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly addressClass: AddressClass,
  ) {
    const target = hostname === address ? address : `${hostname} (${address})`;
    super(`refused to connect to ${target}: ${describeAddressClass(addressClass)} is not allowed`);
    this.name = 'BlockedAddressError';
  }
}

/**
 * True for a `BlockedAddressError`, also when wrapped as the `cause` of another error (fetch wraps it in
 * `TypeError: fetch failed`) or when it comes from another copy of this module (checked by `code`).
 * Delivery treats it as a permanent failure of the attempt, not a network blip.
 */
export function isBlockedAddressError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === ERR_BLOCKED_ADDRESS) return true;
  }
  return false;
}
