/** The bytes that give a JSON text its structure, for the scanners that read a body's bytes rather than JSON.parse's result. */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const COMMA = 0x2c;
export const COLON = 0x3a;

/** A Buffer over the same memory, for its toString. */
export const asBuffer = (json: Uint8Array): Buffer => (Buffer.isBuffer(json) ? json : Buffer.from(json.buffer, json.byteOffset, json.length));
