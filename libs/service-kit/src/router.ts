/**
 * Load-aware routing of ε_θ calls over the refiner replicas (least outstanding work, as Triton's or Ray Serve's
 * routers do). A NATS queue group picks a member at random and knows nothing of its load: with two refiners, a
 * scheduler's one call per tick keeps one of them idle, and two calls land on the same one half the time. Here a
 * tick's batch is split into up to one part per live replica (none smaller than `minPart`, so that each onnxruntime
 * run stays efficient), and each part goes to the replica with the least outstanding items, on that replica's own
 * subject for the set (refinerEpsSubject). Replicas that serve the set are found through `$SRV.INFO.diffusevae-refiner` every `discoveryMs`; one
 * that fails a call (no responders, no reply in time) is dropped at once and its part sent again on the queue
 * group, so nothing depends on discovery being fresh. With one live replica (or none found yet) every call goes
 * to the queue group, as natsEps does.
 *
 * planParts is the pure planning; routedEps the NATS wiring around it.
 */
import { PlatformError, SERVICES, refinerEpsSubject, setSubject } from '@diffusevae/contracts';
import type { EpsFn } from '@diffusevae/pipeline';
import { Tensor } from '@diffusevae/tensor';
import type { NatsConnection } from '@nats-io/transport-node';
import { epsOver, type EpsCallOptions } from './stages.js';

/** One part of a batch: `count` consecutive items for the instance at index `instance` of the loads given. */
export interface Part {
  instance: number;
  count: number;
}

/**
 * How to split `batch` items over instances that have `loads[i]` items outstanding: into as many parts as there are
 * instances, but never a part under `minPart` items (fewer parts instead; one part takes any batch), each part on one
 * of the least loaded instances (ties: the order given), sized so that every chosen instance ends up with the same
 * outstanding work (water-filling; the remainder of an uneven split goes to the least loaded). The parts come in
 * the order of their instances' loads, least loaded first, and their counts sum to `batch`.
 */
export function planParts(batch: number, loads: readonly number[], minPart: number): Part[] {
  if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`planParts: batch must be a non-negative integer, got ${batch}`);
  if (batch === 0 || loads.length === 0) return [];
  const least = Math.max(1, Math.floor(minPart));
  const order = loads.map((_, i) => i).sort((a, b) => loads[a]! - loads[b]! || a - b);
  for (let k = Math.max(1, Math.min(order.length, Math.floor(batch / least))); ; k--) {
    const chosen = order.slice(0, k);
    const counts = waterFill(batch, chosen.map((i) => loads[i]!));
    if (k === 1 || Math.min(...counts) >= least) return chosen.map((instance, j) => ({ instance, count: counts[j]! }));
  }
}

/**
 * Integer counts for instances with `loads` (ascending) summing to `batch`, raising the least loaded first until
 * all reach one level: loads + counts as even as integers allow. An instance above the level gets 0.
 */
function waterFill(batch: number, loads: readonly number[]): number[] {
  let m = loads.length;
  let sum = loads.reduce((a, b) => a + b, 0);
  // the level with the first m instances; drop the most loaded while it is at or above that level
  while (m > 1 && loads[m - 1]! * m >= batch + sum) sum -= loads[--m]!;
  const level = Math.floor((batch + sum) / m);
  const counts = loads.map((l, i) => (i < m ? level - l : 0));
  let rest = batch - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % m, rest--) counts[i]!++;
  return counts;
}

export interface RouterSettings {
  /** least items in one part: a tick of fewer than 2 × minPart goes to one replica whole */
  minPart: number;
  /** how often the live replicas are looked up ($SRV.INFO), ms */
  discoveryMs: number;
  /** how long a lookup collects answers, ms */
  discoveryWaitMs: number;
}

/**
 * The defaults, in one place (the scheduler reads EPS_MIN_PART and EPS_DISCOVERY_MS over them). minPart 8: on one
 * onnxruntime thread an image-step of the committed refiner costs the same at batch 8 as at 16 or 32 (14.4, 14.8,
 * 14.7 ms; 16.2 at batch 1), so parts of 8 lose nothing to batching while a tick of 16 split in two halves its time
 * (services/scheduler/README.md).
 */
export const ROUTER_DEFAULTS: RouterSettings = { minPart: 8, discoveryMs: 2000, discoveryWaitMs: 500 };

export interface RoutedEpsOptions extends Partial<RouterSettings>, EpsCallOptions {
  /** one ε call (EPS_TIMEOUT_MS): past it, the replica is taken for dead and the part goes to the queue group */
  timeoutMs: number;
  /** told when a replica is dropped after a failed call (logs) */
  onDrop?: (instanceId: string, reason: unknown) => void;
}

export interface RouterStats {
  /** live refiner replicas known now */
  instances: number;
  /** ε calls split over replicas' own subjects */
  routedCalls: number;
  /** parts sent to a replica's own subject */
  parts: number;
  /** ε calls sent whole to the queue group (one replica or none known) */
  queueCalls: number;
  /** parts sent again on the queue group after their replica failed them */
  fallbacks: number;
  /** parts failed by their replica (no responders, no reply in time), which was dropped for it */
  drops: number;
}

export interface RoutedEps {
  eps: EpsFn;
  /** the live replicas, in the order they were found, with this process's items in flight on each */
  instances(): { id: string; outstanding: number }[];
  readonly stats: RouterStats;
  /** looks the replicas up now (it also runs every discoveryMs); resolves when the answers are in */
  refresh(): Promise<void>;
  /** stops the lookups (calls in flight finish) */
  stop(): void;
}

interface ServiceInfoReply {
  id?: unknown;
  endpoints?: { subject?: unknown }[];
}

/**
 * An instance that missed this many lookups in a row, with no call of ours in flight on it nor answered meanwhile,
 * is forgotten. A busy refiner answers $SRV.INFO only between its onnxruntime runs (onnxruntime-node runs them on
 * the event loop), so a lookup may miss it: calls in flight and answered count as signs of life. A dead instance
 * left in the list costs one failed call (no responders: at once), which drops it.
 */
const MISSES_TO_FORGET = 3;

/**
 * ε_θ over NATS, each call split over the live refiner replicas by their outstanding work (see the top of this
 * file). Outstanding work is what this process has in flight on each: one scheduler's ticks, and the MAX_BATCH
 * pieces of one tick, see each other; several schedulers split their ticks evenly and so share the replicas evenly.
 */
export function routedEps(nc: NatsConnection, opts: RoutedEpsOptions): RoutedEps {
  const s = { ...ROUTER_DEFAULTS, ...definedOnly(opts) };
  const call: EpsCallOptions = { timeoutMs: opts.timeoutMs, set: opts.set, ...(opts.conditioning ? { conditioning: opts.conditioning } : {}) };
  const own = (id: string) => refinerEpsSubject(opts.set, id);
  /** live instances → lookups missed in a row */
  const live = new Map<string, number>();
  const outstanding = new Map<string, number>();
  const stats: Omit<RouterStats, 'instances'> = { routedCalls: 0, parts: 0, queueCalls: 0, fallbacks: 0, drops: 0 };
  let turn = 0;
  let stopped = false;
  let lookup: Promise<void> | undefined;

  const refresh = (): Promise<void> =>
    (lookup ??= discover()
      .catch(() => {}) // no answer at all (no responders, a reconnect): the replicas known stay until they fail
      .finally(() => (lookup = undefined)));

  async function discover(): Promise<void> {
    const seen = new Set<string>();
    const replies = await nc.requestMany(`$SRV.INFO.${SERVICES.refiner.name}`, undefined, { strategy: 'timer', maxWait: s.discoveryWaitMs });
    for await (const m of replies) {
      let info: ServiceInfoReply;
      try {
        info = m.json<ServiceInfoReply>();
      } catch {
        continue;
      }
      const id = typeof info.id === 'string' ? info.id : '';
      // a replica without its own ε subject for the set (one that serves other sets, or an older version) is not routed to
      if (/^[A-Za-z0-9_-]+$/.test(id) && info.endpoints?.some((e) => e.subject === own(id))) seen.add(id);
    }
    if (stopped) return;
    for (const [id, missed] of live) {
      // with calls in flight it may be deep in a run, unable to answer; if it died, those calls fail and drop it
      if (seen.has(id) || outstanding.has(id)) live.set(id, 0);
      else if (missed + 1 >= MISSES_TO_FORGET) live.delete(id);
      else live.set(id, missed + 1);
    }
    for (const id of seen) if (!live.has(id)) live.set(id, 0);
  }

  const timer = setInterval(() => void refresh(), s.discoveryMs);
  timer.unref();
  void refresh();

  /** after a failed call (a lookup may have forgotten it already, while the call waited for its timeout) */
  const drop = (id: string, reason: unknown) => {
    live.delete(id);
    stats.drops++;
    opts.onDrop?.(id, reason);
  };

  const queueSubject = setSubject('eps', opts.set);
  const queueGroup = (xT: Tensor, t: readonly number[], cond: Tensor) => epsOver(nc, queueSubject, xT, t, cond, call);

  /** one part on its replica's own subject; a replica that fails it transiently is dropped, the part goes to the queue group */
  async function runPart(id: string, xT: Tensor, t: readonly number[], cond: Tensor): Promise<Tensor> {
    outstanding.set(id, (outstanding.get(id) ?? 0) + xT.batch);
    stats.parts++;
    try {
      const out = await epsOver(nc, own(id), xT, t, cond, call);
      if (live.has(id)) live.set(id, 0); // alive, whatever the lookups heard
      return out;
    } catch (e) {
      if (!PlatformError.isTransient(e)) throw e;
      drop(id, e);
    } finally {
      const left = outstanding.get(id)! - xT.batch;
      if (left > 0) outstanding.set(id, left);
      else outstanding.delete(id);
    }
    stats.fallbacks++;
    return queueGroup(xT, t, cond);
  }

  const eps: EpsFn = async (xT, t, cond) => {
    if (t.length !== xT.batch) throw new Error(`eps: ${t.length} timesteps for a batch of ${xT.batch}`);
    const known = [...live.keys()];
    if (known.length <= 1) {
      stats.queueCalls++;
      return queueGroup(xT, t, cond);
    }
    // equal loads go to each replica in turn
    const ids = known.map((_, i) => known[(i + turn) % known.length]!);
    turn = (turn + 1) % known.length;
    const parts = planParts(xT.batch, ids.map((id) => outstanding.get(id) ?? 0), s.minPart);
    stats.routedCalls++;
    let first = 0;
    const outs = await Promise.all(
      parts.map(({ instance, count }) => {
        const [a, b] = [first, (first += count)];
        return runPart(ids[instance]!, rows(xT, a, b), t.slice(a, b), rows(cond, a, b));
      }),
    );
    return outs.length === 1 ? outs[0]! : Tensor.concatBatch(outs);
  };

  return {
    eps,
    instances: () => [...live.keys()].map((id) => ({ id, outstanding: outstanding.get(id) ?? 0 })),
    get stats() {
      return { instances: live.size, ...stats };
    },
    refresh,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** items [a, b) of a batch, sharing its buffer */
const rows = (x: Tensor, a: number, b: number) => new Tensor(x.data.subarray(a * x.itemSize, b * x.itemSize), [b - a, ...x.shape.slice(1)]);

function definedOnly(o: Partial<RouterSettings>): Partial<RouterSettings> {
  return Object.fromEntries(Object.entries({ minPart: o.minPart, discoveryMs: o.discoveryMs, discoveryWaitMs: o.discoveryWaitMs }).filter(([, v]) => v !== undefined));
}
