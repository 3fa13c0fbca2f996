import { ZlibOptions, brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '@switchyard/web';

type Decoder = (body: Buffer, options: ZlibOptions) => Buffer;

/** `deflate` is meant to be zlib-wrapped (RFC 9110), but some clients send raw deflate: both are read. */
const inflateEither: Decoder = (body, options) => {
  try {
    return inflateSync(body, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'Z_DATA_ERROR') throw err;
    return inflateRawSync(body, options);
  }
};

const DECODERS: Record<string, Decoder> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateEither,
  br: (body, options) => brotliDecompressSync(body, { maxOutputLength: options.maxOutputLength }),
};

export const SUPPORTED_CONTENT_ENCODINGS = ['identity', ...Object.keys(DECODERS)];

/**
 * The body as the sender meant it: decoded per its `Content-Encoding` (one of gzip, deflate, br, or
 * identity / none). The decoded body is held to the same `limit` as a plain one (a 256 KiB gzip of zeros
 * would be 256 MiB: decompression stops at the limit and the answer is 413); an encoding we do not decode
 * is a 415, bytes that are not what the header says a 400.
 */
export function decodeContent(body: Buffer, contentEncoding: string | string[] | undefined, limit: number): Buffer {
  if (contentEncoding === undefined) return body;
  const coding = String(contentEncoding).trim().toLowerCase();
  if (coding === '' || coding === 'identity') return body;
  const decode = DECODERS[coding];
  if (!decode) {
    throw new ApiError(415, 'unsupported_content_encoding', `Content-Encoding "${coding.slice(0, 40)}" is not supported (send gzip, deflate, br or none)`);
  }
  try {
    return decode(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ApiError(413, 'payload_too_large', `request body is larger than the limit (${limit} bytes) once decoded`);
    }
    throw new ApiError(400, 'invalid_content_encoding', `body is not valid ${coding} data`);
  }
}

/**
 * Replaces the app's JSON body parser with one that decodes the body first (decodeContent), then keeps
 * the decoded bytes as `rawBody` (what is validated and forwarded) and parses them with Fastify's own
 * JSON parser (prototype poisoning refused as before). Call before `listen`.
 */
export function useDecodingJsonParser(app: NestFastifyApplication, limit: number): void {
  const parseJson = app.getHttpAdapter().getInstance().getDefaultJsonParser('error', 'error');
  app.useBodyParser('application/json', { bodyLimit: limit }, (req: FastifyRequest, body: Buffer, done) => {
    let decoded: Buffer;
    try {
      decoded = decodeContent(body, req.headers['content-encoding'], limit);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    (req as FastifyRequest & { rawBody?: Buffer }).rawBody = decoded;
    parseJson(req, decoded as unknown as string, done); // typed for strings, reads Buffers as well (Fastify parses as buffer here)
  });
}
