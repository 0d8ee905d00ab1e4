/** Peak resident memory (VmHWM) and CPU time of a process and its descendants, from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/** pid → its children, from each process's stat line (/proc/<pid>/task/<tid>/children needs a kernel option). */
function childrenMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …: comm may contain spaces and parentheses, so read after the last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(ppid, [...(map.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  return map;
}

function hwmKb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * The largest peak RSS in the tree, in MB: a service started by tsx runs in a child of the tsx process, and
 * that child is the one whose memory matters (the largest, by far).
 */
export function peakRssMb(pid: number): number {
  const children = childrenMap();
  const walk = (p: number): number => Math.max(hwmKb(p), ...(children.get(p) ?? []).map(walk));
  return walk(pid) / 1024;
}

const TICKS_PER_SEC = 100; // USER_HZ: 100 on every Linux that Node supports

/** user + system CPU time of one process (all its threads), ms */
function cpuOfMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

/** CPU time used so far by a process and its descendants (a tsx service: the tsx process and its node child), ms. */
export function cpuMs(pid: number): number {
  const children = childrenMap();
  const walk = (p: number): number => cpuOfMs(p) + (children.get(p) ?? []).reduce((a, c) => a + walk(c), 0);
  return walk(pid);
}

/** Polls a short-lived process tree (its peak is lost once it exits) until stop() is called. */
export function watchPeakRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = 0;
  const sample = () => (peak = Math.max(peak, peakRssMb(pid)));
  const timer = setInterval(sample, everyMs);
  sample();
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** CPU time of the whole machine so far, every core summed (/proc/stat), ms: busy (not idle nor waiting on I/O) and all. */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already counted in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
    const busy = user! + nice! + system! + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return { busyMs: (busy * 1000) / TICKS_PER_SEC, totalMs: ((busy + idle! + (iowait ?? 0)) * 1000) / TICKS_PER_SEC };
  } catch {
    return { busyMs: 0, totalMs: 0 };
  }
}
