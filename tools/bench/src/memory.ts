/** Peak resident memory (VmHWM) of a process and its descendants, from /proc (Linux). */
import { readFileSync } from 'node:fs';

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
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
  let best = hwmKb(pid);
  for (const c of children(pid)) best = Math.max(best, peakRssMb(c));
  return best / 1024;
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
