import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
function cpuMsOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th, in ticks.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ: 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback; // the process ended while we looked
  }
}

/** The pids whose command name (`/proc/<pid>/comm`) is one of `names`. */
export function pidsNamed(...names: string[]): number[] {
  return allPids().filter((pid) => names.includes(readOr(`/proc/${pid}/comm`).trim()));
}

/**
 * The Postgres processes that work for `database`: the postmaster and its background processes (WAL writer,
 * checkpointer, autovacuum…: shared by every database, and mostly busy with the bench's writes while it
 * runs) and the backends connected to `database`. Backends of other databases (other test runs on the same
 * server) are left out; they show themselves as `postgres: [cluster: ]<user> <database> <host>(<port>) …`.
 */
export function postgresPidsFor(database: string): number[] {
  return pidsNamed('postgres').filter((pid) => {
    const cmd = readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ');
    const backend = /^postgres: (?:[^:]+: )?\S+ (\S+) (?:\[local\]|\S+\(\d+\))/.exec(cmd);
    return !backend || backend[1] === database;
  });
}

/**
 * The process listening on TCP `port` (the NATS server of NATS_URL, not the other nats-servers a shared
 * machine runs for other tests): the socket's inode from /proc/net/tcp{,6}, then the process holding it.
 * Needs to see other users' /proc/<pid>/fd (root, or the same user); none found → [].
 */
export function pidsListeningOn(port: number): number[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readOr(table).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`)) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return [];
  const found: number[] = [];
  for (const pid of allPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) {
          found.push(pid);
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

/** Busy and total jiffies of the whole machine (all cores), from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = values.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return { busy: total - n[3]! - n[4]!, total };
}

export type CpuGroups = Record<string, () => number[]>;

/** What a meter measured: CPU ms of each group per event (and per delivery when counted), and how busy the machine was. */
export interface CpuUse {
  msPerEvent: Record<string, number | null>;
  msPerDelivery?: Record<string, number | null>;
  /** CPU ms each group used in the whole window. */
  msTotal: Record<string, number>;
  seconds: number;
  machineBusyPercent: number;
}

/**
 * CPU used by groups of processes between `startCpuMeter()` and `stop()`: where the machine's cores go for
 * each event at a given rate. A group is a function that finds its processes (Postgres backends come and
 * go), asked at the start and at the end; this process is added as `load generator`.
 */
export function startCpuMeter(groups: CpuGroups) {
  const snapshot = () =>
    Object.fromEntries(Object.entries(groups).map(([name, find]) => [name, new Map(find().map((pid) => [pid, cpuMsOf(pid)]))]));
  const before = snapshot();
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  const t0 = performance.now();
  return {
    /**
     * CPU ms per event (and per delivery) of each group and of this process, and how busy the machine
     * was. A process that started meanwhile (a new Postgres backend) counts whole; one that ended is lost.
     */
    stop(events: number, deliveries?: number): CpuUse {
      const after = snapshot();
      const msTotal: Record<string, number> = {};
      for (const [name, pids] of Object.entries(after)) {
        let used = 0;
        for (const [pid, ms] of pids) used += ms - (before[name]!.get(pid) ?? 0);
        msTotal[name] = used;
      }
      const self = process.cpuUsage(self0);
      msTotal['load generator'] = (self.user + self.system) / 1000;
      const per = (n: number | undefined) => Object.fromEntries(Object.entries(msTotal).map(([k, ms]) => [k, n ? round3(ms / n) : null]));
      const machine1 = machineTicks();
      const busyPercent = (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total);
      return {
        msPerEvent: per(events),
        ...(deliveries !== undefined ? { msPerDelivery: per(deliveries) } : {}),
        msTotal: Object.fromEntries(Object.entries(msTotal).map(([k, ms]) => [k, Math.round(ms)])),
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        machineBusyPercent: Math.round(busyPercent),
      };
    },
  };
}

/** The sum over every group of a per-unit row (`msPerEvent` or `msPerDelivery`). */
export const cpuSum = (row: Record<string, number | null> | undefined) => round3(Object.values(row ?? {}).reduce<number>((n, v) => n + (v ?? 0), 0));

/** Three decimals: a bare handler costs a few hundredths of a ms per request. */
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
