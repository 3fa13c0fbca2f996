import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect as netConnect, Socket } from 'node:net';
import { Dispatcher, request } from 'undici';
import { refuseBlockedPeer } from './guarded-dispatcher';
import {
  BlockedAddressError,
  checkAddress,
  createGuardedDispatcher,
  isBlockedAddressError,
  ResolveAll,
  STRICT_URL_POLICY,
  UrlPolicy,
} from './index';

/** A real HTTP receiver on loopback that counts TCP connections and requests. */
class Canary {
  requests = 0;
  connections = 0;
  readonly servers: Server[] = [];
  port = 0;

  constructor(private readonly handler: (req: IncomingMessage, res: ServerResponse) => void) {}

  /** Listens on 127.0.0.1 and, on the same port, on ::1 (so IPv6 spellings would really arrive). */
  async start(): Promise<this> {
    for (const host of ['127.0.0.1', '::1']) {
      const server = createServer((req, res) => {
        this.requests++;
        this.handler(req, res);
      });
      server.on('connection', () => this.connections++);
      server.listen(this.port, host);
      await once(server, 'listening');
      this.port = (server.address() as AddressInfo).port;
      this.servers.push(server);
    }
    return this;
  }

  reset() {
    this.requests = 0;
    this.connections = 0;
  }

  async stop() {
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}

const ok = (_req: IncomingMessage, res: ServerResponse) => res.end('canary');
const DEV: UrlPolicy = { allowInsecure: true, allowedCidrs: [] };
const CONNECT_TIMEOUT_MS = 2000;

/** Loopback spellings that a URL may carry, all reaching the canary when allowed. */
const spellings = (port: number) => [
  `http://127.0.0.1:${port}/hook`,
  `http://127.1:${port}/hook`,
  `http://2130706433:${port}/hook`,
  `http://0x7f.1:${port}/hook`,
  `http://0177.0.0.1:${port}/hook`,
  `http://127.0.0.1.:${port}/hook`,
  `http://[::1]:${port}/hook`,
  `http://[0:0:0:0:0:0:0:1]:${port}/hook`,
  `http://[::ffff:127.0.0.1]:${port}/hook`,
  `http://[::ffff:7f00:1]:${port}/hook`,
  `http://localhost:${port}/hook`, // a name that resolves to loopback
];

async function post(url: string, dispatcher: Dispatcher) {
  const res = await request(url, { method: 'POST', body: '{}', dispatcher });
  await res.body.dump();
  return res;
}

describe('createGuardedDispatcher', () => {
  let canary: Canary;
  let strict: Dispatcher;
  let dev: Dispatcher;

  beforeAll(async () => {
    canary = await new Canary(ok).start();
    strict = createGuardedDispatcher(STRICT_URL_POLICY, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
    dev = createGuardedDispatcher(DEV, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  });

  afterAll(async () => {
    await Promise.all([strict.close(), dev.close()]);
    await canary.stop();
  });

  beforeEach(() => canary.reset());

  describe('strict policy: the canary receives nothing, not even a TCP connection', () => {
    it.each(spellings(0).map((u) => [u.replace(':0/', ':<port>/')]))('refuses %s', async (template) => {
      const url = template.replace('<port>', String(canary.port));
      const err = await post(url, strict).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isBlockedAddressError(err)).toBe(true);
      expect(err).toBeInstanceOf(BlockedAddressError);
      expect((err as BlockedAddressError).code).toBe('ERR_BLOCKED_ADDRESS');
      expect((err as Error).message).toMatch(/refused to connect to .*loopback address is not allowed/);
      expect(canary.requests).toBe(0);
      expect(canary.connections).toBe(0);
    });

    it('refuses through dispatcher.request as well', async () => {
      await expect(
        strict.request({ origin: `http://127.0.0.1:${canary.port}`, path: '/hook', method: 'POST', body: '{}' }),
      ).rejects.toMatchObject({ code: 'ERR_BLOCKED_ADDRESS', addressClass: 'loopback' });
      expect(canary.requests).toBe(0);
    });
  });

  describe('allowInsecure: the same spellings reach the canary (so the refusals above are real)', () => {
    it.each(spellings(0).map((u) => [u.replace(':0/', ':<port>/')]))('delivers to %s', async (template) => {
      const res = await post(template.replace('<port>', String(canary.port)), dev);
      expect(res.statusCode).toBe(200);
      expect(canary.requests).toBe(1);
    });
  });

  describe('names are resolved once and every answer is checked (DNS rebinding)', () => {
    const withAnswers =
      (answers: { address: string; family: number }[]): ResolveAll =>
      (_host, _opts, cb) =>
        cb(null, answers);

    it('refuses a public-looking name whose answer is loopback', async () => {
      const d = createGuardedDispatcher(STRICT_URL_POLICY, {
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        resolve: withAnswers([{ address: '127.0.0.1', family: 4 }]),
      });
      try {
        await expect(post(`http://rebind.example:${canary.port}/`, d)).rejects.toMatchObject({
          code: 'ERR_BLOCKED_ADDRESS',
          message: expect.stringContaining('rebind.example (127.0.0.1)'),
        });
      } finally {
        await d.close();
      }
      expect(canary.connections).toBe(0);
    });

    it('refuses a name whose answers mix public and internal addresses', async () => {
      const d = createGuardedDispatcher(STRICT_URL_POLICY, {
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        resolve: withAnswers([
          { address: '93.184.215.14', family: 4 },
          { address: '::ffff:169.254.169.254', family: 6 },
        ]),
      });
      try {
        await expect(post(`http://mixed.example:${canary.port}/`, d)).rejects.toMatchObject({
          code: 'ERR_BLOCKED_ADDRESS',
          addressClass: 'metadata',
        });
      } finally {
        await d.close();
      }
    });

    it('connects to exactly the checked answer (allowed via allowedCidrs)', async () => {
      const d = createGuardedDispatcher(
        { allowInsecure: false, allowedCidrs: ['127.0.0.1/32'] },
        { connectTimeoutMs: CONNECT_TIMEOUT_MS, resolve: withAnswers([{ address: '127.0.0.1', family: 4 }]) },
      );
      try {
        const res = await post(`http://receiver.example:${canary.port}/`, d);
        expect(res.statusCode).toBe(200);
        expect(canary.requests).toBe(1);
        // ::1 is not in the allowed block
        await expect(post(`http://[::1]:${canary.port}/`, d)).rejects.toMatchObject({ code: 'ERR_BLOCKED_ADDRESS' });
        expect(canary.requests).toBe(1);
      } finally {
        await d.close();
      }
    });

    it('passes resolver errors through unchanged', async () => {
      const d = createGuardedDispatcher(STRICT_URL_POLICY, {
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        resolve: (_h, _o, cb) => cb(Object.assign(new Error('getaddrinfo ENOTFOUND nx.example'), { code: 'ENOTFOUND' }), []),
      });
      try {
        const err = await post('http://nx.example/', d).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'ENOTFOUND' });
        expect(isBlockedAddressError(err)).toBe(false);
      } finally {
        await d.close();
      }
    });
  });

  describe('the post-connect check on the socket', () => {
    it('destroys a connected socket whose peer is blocked', async () => {
      const socket: Socket = netConnect(canary.port, '127.0.0.1');
      await once(socket, 'connect');
      const destroyedWith = once(socket, 'error'); // undici's connector listens for this in production
      const err = refuseBlockedPeer(socket, 'sneaky.example', (a) => checkAddress(a, STRICT_URL_POLICY));
      expect(err).toMatchObject({ code: 'ERR_BLOCKED_ADDRESS', address: '127.0.0.1', addressClass: 'loopback' });
      expect(socket.destroyed).toBe(true);
      await expect(destroyedWith).resolves.toEqual([err]);
      expect(canary.requests).toBe(0);
    });

    it('keeps a socket whose peer is allowed', async () => {
      const socket: Socket = netConnect(canary.port, '127.0.0.1');
      await once(socket, 'connect');
      expect(refuseBlockedPeer(socket, 'ok.example', (a) => checkAddress(a, DEV))).toBeNull();
      expect(socket.destroyed).toBe(false);
      socket.destroy();
    });
  });

  describe('redirects are never followed', () => {
    let redirecting: Canary;
    let target: Canary;

    beforeAll(async () => {
      target = await new Canary(ok).start();
      redirecting = await new Canary((_req, res) => {
        res.writeHead(302, { location: `http://127.0.0.1:${target.port}/stolen` }).end();
      }).start();
    });

    afterAll(async () => {
      await Promise.all([redirecting.stop(), target.stop()]);
    });

    it('returns a 302 as a response and does not fetch the Location', async () => {
      const res = await request(`http://127.0.0.1:${redirecting.port}/hook`, { method: 'POST', body: '{}', dispatcher: dev });
      await res.body.dump();
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe(`http://127.0.0.1:${target.port}/stolen`);
      expect(redirecting.requests).toBe(1);
      expect(target.requests).toBe(0);
      expect(target.connections).toBe(0);
    });

    it('cannot be asked to follow: undici 7 rejects maxRedirections on a plain request', async () => {
      const opts = { method: 'POST', body: '{}', dispatcher: dev, maxRedirections: 3 } as Parameters<typeof request>[1];
      await expect(request(`http://127.0.0.1:${redirecting.port}/hook`, opts)).rejects.toThrow(/maxRedirections is not supported/);
      expect(target.requests).toBe(0);
    });
  });
});
