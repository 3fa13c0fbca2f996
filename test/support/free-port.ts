import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The lowest port the kernel hands out to outgoing connections (`ip_local_port_range`). A port taken from
 * that range by listening on port 0 can be handed to some process's outgoing connection (to Postgres, to NATS)
 * between the moment it is found free and the moment the app binds it: the dedupe service then failed to
 * start with EADDRINUSE under a full, parallel `npm test`.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

const FIRST = 10_000;

function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1, chosen below the kernel's range for outgoing
 * connections (at random, so parallel test workers rarely pick the same one); any free port if none there is.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low > FIRST + 100) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await listenOnce(FIRST + Math.floor(Math.random() * (low - FIRST)));
      if (port !== null) return port;
    }
  }
  const any = await listenOnce(0);
  if (any === null) throw new Error('no free TCP port on 127.0.0.1');
  return any;
}
