import { describeAddressClass } from './address-class';
import { parseHostAddress } from './ip-address';
import { checkAddress, compileAllowedCidrs, UrlPolicy } from './url-policy';

export const MAX_SUBSCRIBER_URL_LENGTH = 2048;

export type SubscriberUrlResult = { ok: true; url: URL } | { ok: false; reason: string };

/** Names of cloud metadata services: refused under every policy. */
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data']);

/** Suffixes that only resolve inside a host, LAN or cloud network (refused in strict mode). */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'localdomain', 'home.arpa'];

// C0 controls, DEL, C1 controls, Unicode line/paragraph separators. The URL parser silently strips
// tabs and newlines ("exa\nmple.com" → example.com), so they are refused on the raw string.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

const refuse = (reason: string): SubscriberUrlResult => ({ ok: false, reason: `webhook_url ${reason}` });

/**
 * Checks a subscriber URL at registration (the guarded dispatcher checks again on every connection, after DNS).
 * Reasons are meant for a 400 response and never contain the URL itself, so a password or token in it is
 * not echoed. Decisions:
 * - a fragment (`#…`) is refused rather than dropped: it is never sent to the receiver, so it is a mistake;
 * - `allowInsecure` also allows `localhost`-style and single-label names (`http://localhost:3000`,
 *   `http://receiver` in docker compose), since the loopback/private addresses they resolve to are allowed too;
 * - metadata names (`metadata.google.internal`) and addresses are refused under every policy.
 * The returned `url` is the parsed, normalized URL (`https://Example.COM` comes back as `https://example.com/`):
 * store and deliver to `url.href`.
 */
export function validateSubscriberUrl(raw: string, policy: UrlPolicy): SubscriberUrlResult {
  if (typeof raw !== 'string' || raw === '') return refuse('is required');
  if (raw.length > MAX_SUBSCRIBER_URL_LENGTH) return refuse(`is longer than ${MAX_SUBSCRIBER_URL_LENGTH} characters`);
  if (CONTROL_CHARS.test(raw)) return refuse('contains control characters (CR, LF, NUL, tab…)');
  if (raw.trim() !== raw) return refuse('has leading or trailing spaces');
  if (raw.includes('#')) return refuse('must not contain a fragment (#…): it would never reach the receiver');

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('is not a valid absolute URL');
  }
  const schemes = policy.allowInsecure ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    return refuse(policy.allowInsecure ? 'must start with https:// or http://' : 'must start with https://');
  }
  if (url.username !== '' || url.password !== '') {
    return refuse('must not contain credentials (user:password@); register an api_key instead');
  }
  if (url.href.length > MAX_SUBSCRIBER_URL_LENGTH) {
    return refuse(`is longer than ${MAX_SUBSCRIBER_URL_LENGTH} characters once normalized`);
  }

  const host = parseHostAddress(url.hostname);
  if (host.kind === 'invalid') return refuse('has an invalid host');
  if (host.kind === 'ip') {
    const verdict = checkAddress(host.address, policy, compileAllowedCidrs(policy));
    if (!verdict.allowed) {
      return refuse(`host ${verdict.address} is ${describeAddressClass(verdict.addressClass)}, which is not allowed`);
    }
    return { ok: true, url };
  }
  return checkHostName(host.name, policy) ?? { ok: true, url };
}

/** Refuses malformed names, metadata names, and (strict mode) names that only resolve internally. */
function checkHostName(name: string, policy: UrlPolicy): SubscriberUrlResult | null {
  const labels = name.split('.');
  if (name.length > 253 || !labels.every((l) => LABEL.test(l))) return refuse('has an invalid host name');
  if (METADATA_NAMES.has(name)) return refuse(`host ${name} is a cloud metadata service, which is not allowed`);
  if (policy.allowInsecure) return null;
  if (labels.length === 1) {
    return refuse(`host ${name} is a single-label name that only resolves inside a private network`);
  }
  const suffix = INTERNAL_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  if (suffix) return refuse(`host ${name} is an internal name (.${suffix}), which is not allowed`);
  return null;
}
