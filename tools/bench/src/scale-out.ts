/**
 * The scale-out stage: end-to-end throughput of two refiner replicas against one, each replica limited to one core
 * (pinned with taskset, one onnxruntime thread). Two clusters as cluster.ts starts them, one busy at a time: the
 * same load (`jobs` concurrent single-image jobs) on each in turn, repetition by repetition, odd repetitions the
 * other way round; refiners2_vs_1 is the median of the per-repetition throughput ratios (report.ts).
 */
import { startCluster, type Cluster, type SchedulerStats } from './cluster.js';
import { machineCpuMs } from './proc.js';
import type { Row, ScaleOutCluster } from './report.js';
import { measurement } from './stats.js';

export interface ScaleOutOptions {
  modelDir: string;
  sampler: 'DDIM' | 'DDPM';
  steps: number;
  reps: number;
  /** a repetition runs as many rounds of `jobs` concurrent jobs as fill about this long on the one-refiner cluster */
  minRepMs: number;
  jobs: number;
  /** [the one-refiner cluster's CPU, the two-refiner cluster's second one] */
  cpus: readonly [number, number];
  gflopPerImageStep: number;
  say(line: string): void;
}

export interface ScaleOutMeasured {
  rows: Row[];
  clusters: ScaleOutCluster[];
  /** CPU time of processes outside the bench (its clusters and itself) over the timed runs, and the capacity, ms */
  outside: { cpuMs: number; capacityMs: number };
}

const MAX_ROUNDS = 20;

export async function scaleOutBench(o: ScaleOutOptions): Promise<ScaleOutMeasured> {
  const specs = [
    { label: '1 refiner', refiners: 1, cpus: [o.cpus[0]] },
    { label: '2 refiners', refiners: 2, cpus: [o.cpus[0], o.cpus[1]] },
  ];
  const clusters: Cluster[] = [];
  try {
    for (const spec of specs) {
      o.say(`scale-out: starting a cluster with ${spec.label} pinned to CPU ${spec.cpus.join(' and ')} (taskset -c, ORT_THREADS=1)`);
      clusters.push(await startCluster({ modelDir: o.modelDir, threads: 0, sampler: o.sampler, steps: o.steps, refiners: spec.refiners, refinerCpus: spec.cpus }));
    }
    // the two-refiner scheduler routes once it has found both replicas
    await clusters[1]!.routingOver(2);
    for (const c of clusters) await c.warmUp(o.jobs);
    // rounds per repetition, judged by one round on the slower (one-refiner) cluster
    let rounds = 1;
    if (o.minRepMs > 0) {
      const { wallMs } = await clusters[0]!.concurrentOnce(o.jobs);
      rounds = Math.min(MAX_ROUNDS, Math.max(1, Math.ceil(o.minRepMs / wallMs)));
    }
    o.say(`scale-out: ${o.jobs} concurrent single-image jobs × ${rounds} round(s) per repetition, ${o.reps} repetition(s), the clusters in turn`);

    const per = specs.map(() => ({ repMs: [] as number[], latenciesMs: [] as number[], busyMs: 0, cpuMs: {} as Record<string, number>, wallMs: 0, outsideShare: [] as number[] }));
    const routingBefore = await Promise.all(clusters.map((c) => c.schedulerStats()));
    const outside = { cpuMs: 0, capacityMs: 0 };
    for (let r = 0; r < o.reps; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const c = clusters[i]!;
        const m = per[i]!;
        const [cpu0, busy0, machine0, self0] = [allCpu(clusters), await c.refinerBusyMs(), machineCpuMs(), selfCpuMs()];
        let rep = 0;
        for (let j = 0; j < rounds; j++) {
          const run = await c.concurrentOnce(o.jobs);
          rep += run.wallMs;
          m.latenciesMs.push(...run.latenciesMs);
        }
        const [cpu1, busy1, machine1, self1] = [allCpu(clusters), await c.refinerBusyMs(), machineCpuMs(), selfCpuMs()];
        m.repMs.push(rep);
        m.wallMs += rep;
        m.busyMs += busy1 - busy0;
        const [before, own] = [cpu0[i]!, cpu1[i]!];
        for (const [k, v] of Object.entries(own)) m.cpuMs[k] = (m.cpuMs[k] ?? 0) + v - (before[k] ?? 0);
        const benchMs = sumAll(cpu1) - sumAll(cpu0) + (self1 - self0);
        const [others, capacity] = [Math.max(0, machine1.busyMs - machine0.busyMs - benchMs), machine1.totalMs - machine0.totalMs];
        outside.cpuMs += others;
        outside.capacityMs += capacity;
        m.outsideShare.push(capacity > 0 ? Math.round((1000 * others) / capacity) / 1000 : 0);
        o.say(`scale-out: repetition ${r + 1}, ${specs[i]!.label}: ${((o.jobs * rounds * 1000) / rep).toFixed(2)} images/s`);
      }
    }
    const routingAfter = await Promise.all(clusters.map((c) => c.schedulerStats()));
    const memory = clusters.map((c) => c.memory());

    const rows: Row[] = specs.map((spec, i) => ({
      path: 'scale-out',
      batch: 1,
      jobs: o.jobs,
      runsPerRep: rounds,
      refiners: spec.refiners,
      ...measurement({ images: o.jobs * rounds * o.reps, steps: o.steps, wallMs: per[i]!.wallMs, latenciesMs: per[i]!.latenciesMs, gflopPerImageStep: o.gflopPerImageStep }),
      repMs: per[i]!.repMs,
      engineMs: Math.round(per[i]!.busyMs),
    }));
    return {
      rows,
      clusters: specs.map((spec, i) => ({
        label: spec.label,
        refiners: spec.refiners,
        cpus: spec.cpus,
        wallMs: Math.round(per[i]!.wallMs),
        cpuMs: Object.fromEntries(Object.entries(per[i]!.cpuMs).map(([k, v]) => [k, Math.round(v)])),
        memoryMb: memory[i]!,
        routing: routingDelta(routingBefore[i]!, routingAfter[i]!),
        outsideShare: per[i]!.outsideShare,
      })),
      outside: { cpuMs: Math.round(outside.cpuMs), capacityMs: Math.round(outside.capacityMs) },
    };
  } finally {
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

/** each cluster's CPU time by process so far */
const allCpu = (clusters: Cluster[]) => clusters.map((c) => c.cpu());
const sumAll = (per: Record<string, number>[]) => per.reduce((a, m) => a + Object.values(m).reduce((x, y) => x + y, 0), 0);
/** this process's own CPU time so far (the clients of the jobs; not its children, the clusters), ms */
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** the scheduler's ε routing over the timed runs */
function routingDelta(before: SchedulerStats, after: SchedulerStats): ScaleOutCluster['routing'] {
  const a = after.routing;
  const b = before.routing;
  if (!a) return undefined;
  return {
    instances: a.instances,
    routedCalls: a.routedCalls - (b?.routedCalls ?? 0),
    parts: a.parts - (b?.parts ?? 0),
    queueCalls: a.queueCalls - (b?.queueCalls ?? 0),
    fallbacks: a.fallbacks - (b?.fallbacks ?? 0),
  };
}
