import { readdirSync, readFileSync } from 'node:fs';

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

/** The pids whose command name (`/proc/<pid>/comm`) is one of `names`: Postgres' backends, nats-server. */
export function pidsNamed(...names: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine (all cores), from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = values.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return { busy: total - n[3]! - n[4]!, total };
}

export type CpuGroups = Record<string, () => number[]>;

/**
 * CPU used by groups of processes between `startCpuMeter()` and `stop()`, per event: where the machine's
 * two cores go for each event at a given rate. A group is a function that finds its processes (Postgres
 * backends come and go), asked at the start and at the end.
 */
export function startCpuMeter(groups: CpuGroups) {
  const snapshot = () =>
    Object.fromEntries(Object.entries(groups).map(([name, find]) => [name, new Map(find().map((pid) => [pid, cpuMsOf(pid)]))]));
  const before = snapshot();
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  return {
    /**
     * CPU ms per event of each group (and of this process, the load generator), and how busy the machine
     * was. A process that started meanwhile (a new Postgres backend) counts whole; one that ended is lost.
     */
    stop(events: number): { msPerEvent: Record<string, number | null>; machineBusyPercent: number } {
      const after = snapshot();
      const msPerEvent: Record<string, number | null> = {};
      for (const [name, pids] of Object.entries(after)) {
        let used = 0;
        for (const [pid, ms] of pids) used += ms - (before[name]!.get(pid) ?? 0);
        msPerEvent[name] = events > 0 ? round3(used / events) : null;
      }
      const self = process.cpuUsage(self0);
      msPerEvent['load generator'] = events > 0 ? round3((self.user + self.system) / 1000 / events) : null;
      const machine1 = machineTicks();
      const busyPercent = (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total);
      return { msPerEvent, machineBusyPercent: Math.round(busyPercent) };
    },
  };
}

/** Three decimals: a bare handler costs a few hundredths of a ms per request. */
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
