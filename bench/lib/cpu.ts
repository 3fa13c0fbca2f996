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

/**
 * How many times the process's threads have been woken from sleep so far: the voluntary context switches of
 * every thread (a thread that blocks in epoll or on a futex gives up the CPU, and is switched back in when a
 * message, a timer or another thread wakes it); 0 once it is gone. At a low rate every message between two
 * processes wakes the one it is sent to, so this counts the hops an event makes.
 */
function wakesOf(pid: number | 'self'): number {
  let wakes = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readOr(`/proc/${pid}/task/${tid}/status`));
    if (m) wakes += Number(m[1]);
  }
  return wakes;
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
  /** Times each group's threads were woken from sleep, per event (see `wakesOf`). */
  wakesPerEvent?: Record<string, number | null>;
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
    Object.fromEntries(Object.entries(groups).map(([name, find]) => [name, new Map(find().map((pid) => [pid, { ms: cpuMsOf(pid), wakes: wakesOf(pid) }]))]));
  const before = snapshot();
  const selfWakes0 = wakesOf('self');
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  const t0 = performance.now();
  return {
    /**
     * CPU ms per event (and per delivery) of each group and of this process, and how busy the machine
     * was. A process that started meanwhile (a new Postgres backend) counts whole; one that ended is lost.
     */
    stop(events: number, deliveries?: number): CpuUse {
      // This process's own figures first: the scan of /proc below is the meter's work, not the load's.
      const self = process.cpuUsage(self0);
      const selfWakes = wakesOf('self') - selfWakes0;
      const after = snapshot();
      const msTotal: Record<string, number> = {};
      const wakesTotal: Record<string, number> = {};
      for (const [name, pids] of Object.entries(after)) {
        let used = 0;
        let wakes = 0;
        for (const [pid, now] of pids) {
          const then = before[name]!.get(pid);
          used += now.ms - (then?.ms ?? 0);
          wakes += now.wakes - (then?.wakes ?? 0);
        }
        msTotal[name] = used;
        wakesTotal[name] = wakes;
      }
      msTotal['load generator'] = (self.user + self.system) / 1000;
      wakesTotal['load generator'] = selfWakes;
      const perUnit = (totals: Record<string, number>, n: number | undefined, round: (x: number) => number) =>
        Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, n ? round(v / n) : null]));
      const per = (n: number | undefined) => perUnit(msTotal, n, round3);
      const machine1 = machineTicks();
      const busyPercent = (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total);
      return {
        msPerEvent: per(events),
        ...(deliveries !== undefined ? { msPerDelivery: per(deliveries) } : {}),
        msTotal: Object.fromEntries(Object.entries(msTotal).map(([k, ms]) => [k, Math.round(ms)])),
        wakesPerEvent: perUnit(wakesTotal, events, (x) => Math.round(x * 10) / 10),
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
