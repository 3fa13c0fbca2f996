import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { decodeContent } from './content-decoding';

const body = Buffer.from(JSON.stringify({ event_name: 'shipment:created', event_data: { shipment_id: 's-1' } }));
const LIMIT = 256 * 1024;

const failure = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    const e = err as { getStatus(): number; getResponse(): { error: { code: string; message: string } } };
    return { status: e.getStatus(), ...e.getResponse().error };
  }
  return null;
};

describe('Content-Encoding at ingress', () => {
  it.each([
    ['gzip', gzipSync(body)],
    ['x-gzip', gzipSync(body)],
    ['deflate', deflateSync(body)],
    ['deflate', deflateRawSync(body)],
    ['br', brotliCompressSync(body)],
    [' GZIP ', gzipSync(body)],
  ])('decodes %p', (encoding, encoded) => {
    expect(decodeContent(encoded, encoding, LIMIT).equals(body)).toBe(true);
  });

  it('passes a body without an encoding, or with identity, through as it is', () => {
    expect(decodeContent(body, undefined, LIMIT)).toBe(body);
    expect(decodeContent(body, 'identity', LIMIT)).toBe(body);
    expect(decodeContent(body, '', LIMIT)).toBe(body);
  });

  it('answers 413 for a zip bomb (64 KiB of gzip that would be 64 MiB), having decoded no more than the limit', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(LIMIT);
    const started = process.memoryUsage().arrayBuffers;
    expect(failure(() => decodeContent(bomb, 'gzip', LIMIT))).toEqual({ status: 413, code: 'payload_too_large', message: expect.stringMatching(/once decoded/) });
    expect(process.memoryUsage().arrayBuffers - started).toBeLessThan(16 * 1024 * 1024);
    expect(failure(() => decodeContent(brotliCompressSync(Buffer.alloc(LIMIT + 1)), 'br', LIMIT))?.status).toBe(413);
    expect(decodeContent(gzipSync(Buffer.alloc(LIMIT)), 'gzip', LIMIT).length).toBe(LIMIT);
  });

  it('answers 400 for bytes that are not what the header says (a plain body labelled gzip)', () => {
    expect(failure(() => decodeContent(body, 'gzip', LIMIT))).toEqual({ status: 400, code: 'invalid_content_encoding', message: 'body is not valid gzip data' });
    expect(failure(() => decodeContent(body, 'br', LIMIT))?.status).toBe(400);
    expect(failure(() => decodeContent(gzipSync(body).subarray(0, 20), 'gzip', LIMIT))?.status).toBe(400);
  });

  it('answers 415 for an encoding it does not decode, or several at once', () => {
    for (const encoding of ['compress', 'zstd', 'gzip, br', 'x-custom']) {
      expect(failure(() => decodeContent(body, encoding, LIMIT))).toEqual({ status: 415, code: 'unsupported_content_encoding', message: expect.stringMatching(/is not supported/) });
    }
  });
});
