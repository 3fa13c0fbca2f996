import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE, asBuffer } from './json-bytes';

/** A key an object of a JSON text holds twice, and where (`$.event_data`), for the error message. */
export interface DuplicateKey {
  key: string;
  path: string;
}

interface Frame {
  keys: Set<string> | null; // null: an array
  /** The current key (object) or index (array), for the path. */
  at: string | number;
  expectingKey: boolean;
}

const pathOf = (stack: Frame[], depth: number): string =>
  stack
    .slice(0, depth)
    .map((f) => (typeof f.at === 'number' ? `[${f.at}]` : /^[A-Za-z_$][\w$]*$/.test(f.at) ? `.${f.at}` : `[${JSON.stringify(f.at)}]`))
    .join('')
    .replace(/^/, '$');

/** Key tokens of a JSON text: strings followed by a colon. No allocation. */
function countKeyTokens(json: Uint8Array): number {
  let keys = 0;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    if (json[i] !== QUOTE) continue;
    for (i++; i < n && json[i] !== QUOTE; i++) if (json[i] === BACKSLASH) i++;
    let j = i + 1;
    while (json[j] === 0x20 || json[j] === 0x0a || json[j] === 0x0d || json[j] === 0x09) j++;
    if (json[j] === COLON) keys++;
  }
  return keys;
}

/** Properties of every object in a parsed JSON value. */
function countProperties(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const e of v) if (e !== null && typeof e === 'object') stack.push(e);
      continue;
    }
    for (const k in v) {
      n++;
      const e = (v as Record<string, unknown>)[k];
      if (e !== null && typeof e === 'object') stack.push(e);
    }
  }
  return n;
}

/**
 * The first key that appears twice in one object of a JSON text, at any depth, or null. JSON.parse keeps
 * the last of two equal keys, other parsers keep the first: a body with `"event_name"` twice would be
 * validated as one event and read by a receiver (the `nimbus` format forwards the bytes) as another.
 * Keys are compared after unescaping (`"a"` and `"\u0061"` are the same key). Meant for text that
 * JSON.parse has already accepted: given its result (`parsed`), the usual answer costs one pass over the
 * bytes counting keys, compared with the properties JSON.parse kept (fewer only when a key repeated); the
 * key is then found by a second pass that tracks every object's keys.
 */
export function findDuplicateKey(json: Uint8Array, parsed?: unknown): DuplicateKey | null {
  if (parsed !== undefined && countKeyTokens(json) === countProperties(parsed)) return null;
  return locateDuplicateKey(json);
}

function locateDuplicateKey(json: Uint8Array): DuplicateKey | null {
  const bytes = asBuffer(json);
  const stack: Frame[] = [];
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < n && bytes[i] !== QUOTE; i++) {
        if (bytes[i] === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectingKey) {
        const key = escaped ? (JSON.parse(bytes.toString('utf8', start, i + 1)) as string) : bytes.toString('utf8', start + 1, i);
        if (top.keys.has(key)) return { key, path: pathOf(stack, stack.length - 1) };
        top.keys.add(key);
        top.at = key;
        top.expectingKey = false;
      }
    } else if (c === OPEN_OBJECT) {
      stack.push({ keys: new Set(), at: '', expectingKey: true });
    } else if (c === OPEN_ARRAY) {
      stack.push({ keys: null, at: 0, expectingKey: false });
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectingKey = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return null;
}
