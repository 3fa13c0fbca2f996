import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE, asBuffer } from './json-bytes';

const MINUS = 0x2d;
const INTEGER = /^-?\d+$/;

/** A canonical JSON object: its members in key order, each key as JSON.stringify writes it, then its value's canonical text. */
export function canonicalObject(keys: string[], textOf: (key: string) => string): string {
  return `{${keys
    .sort()
    .map((k) => `${JSON.stringify(k)}:${textOf(k)}`)
    .join(',')}}`;
}

/** Digits, sign, point and exponent: JSON.parse has accepted the text, so these make a valid number. */
const inNumber = (b: number) => (b >= 0x30 && b <= 0x39) || b === MINUS || b === 0x2b || b === 0x2e || b === 0x45 || b === 0x65;

/**
 * A number as canonicalJson writes what JSON.parse makes of it, except an integer JSON.parse cannot hold
 * exactly (9007199254740993 and 9007199254740992 both become 2^53), which keeps the digits it was sent
 * with: two such integers are two values to the receiver of the forwarded bytes. Only integers written
 * out: a fraction or an exponent is a float, and floats that differ beyond double precision
 * (0.1 and 0.10000000000000000001) stay one value, as they always were.
 */
function numberText(token: string): string {
  const n = Number(token); // what JSON.parse makes of a JSON number
  if (!Number.isSafeInteger(n) && INTEGER.test(token) && (!Number.isFinite(n) || BigInt(token) !== BigInt(n))) return token;
  return JSON.stringify(n);
}

/**
 * canonicalJson of a JSON text that JSON.parse has accepted, read from its bytes: the same text as
 * `canonicalJson(JSON.parse(text))`, except for the integers numberText keeps as written. The last of two
 * equal keys counts, as with JSON.parse; a leading byte order mark is skipped, as Fastify's parser does.
 */
export function canonicalJsonOfText(json: Uint8Array): string {
  const bytes = asBuffer(json);
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;

  const skipSpace = () => {
    while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) i++;
  };
  const expect = (byte: number) => {
    skipSpace();
    if (bytes[i] !== byte) throw new SyntaxError(`unexpected byte at ${i} of a JSON text`);
    i++;
  };
  const string = (): string => {
    skipSpace();
    if (bytes[i] !== QUOTE) throw new SyntaxError(`expected a string at ${i} of a JSON text`);
    const start = i;
    let escaped = false;
    for (i++; i < bytes.length && bytes[i] !== QUOTE; i++) {
      if (bytes[i] === BACKSLASH) {
        escaped = true;
        i++;
      }
    }
    i++;
    return escaped ? (JSON.parse(bytes.toString('utf8', start, i)) as string) : bytes.toString('utf8', start + 1, i - 1);
  };
  const literal = (word: string): string => {
    if (bytes.toString('latin1', i, i + word.length) !== word) throw new SyntaxError(`unexpected byte at ${i} of a JSON text`);
    i += word.length;
    return word;
  };

  const value = (): string => {
    skipSpace();
    const c = bytes[i];
    if (c === OPEN_OBJECT) {
      i++;
      const members = new Map<string, string>();
      skipSpace();
      if (bytes[i] === CLOSE_OBJECT) i++;
      else {
        do {
          const key = string();
          expect(COLON);
          members.set(key, value());
          skipSpace();
        } while (bytes[i++] === COMMA);
        if (bytes[i - 1] !== CLOSE_OBJECT) throw new SyntaxError(`unexpected byte at ${i - 1} of a JSON text`);
      }
      return canonicalObject([...members.keys()], (k) => members.get(k)!);
    }
    if (c === OPEN_ARRAY) {
      i++;
      const items: string[] = [];
      skipSpace();
      if (bytes[i] === CLOSE_ARRAY) i++;
      else {
        do {
          items.push(value());
          skipSpace();
        } while (bytes[i++] === COMMA);
        if (bytes[i - 1] !== CLOSE_ARRAY) throw new SyntaxError(`unexpected byte at ${i - 1} of a JSON text`);
      }
      return `[${items.join(',')}]`;
    }
    if (c === QUOTE) return JSON.stringify(string());
    if (c === MINUS || (c !== undefined && c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < bytes.length && inNumber(bytes[i]!)) i++;
      return numberText(bytes.toString('latin1', start, i));
    }
    return literal(c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null');
  };

  const text = value();
  skipSpace();
  if (i !== bytes.length) throw new SyntaxError(`unexpected byte at ${i} of a JSON text`);
  return text;
}
