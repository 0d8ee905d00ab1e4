/**
 * How the scheduler reaches the refiners: ε calls split over the live replicas by their outstanding work
 * (service-kit's routedEps), or every call to the queue group (natsEps). Its settings, read here:
 *
 * - EPS_ROUTING: `least-outstanding` (default) or `queue-group` (one call per tick, as before, to whichever replica
 *   the queue group picks);
 * - EPS_MIN_PART: least items in one replica's part of a tick (default ROUTER_DEFAULTS.minPart);
 * - EPS_DISCOVERY_MS: how often the replicas are looked up through `$SRV.INFO.diffusevae-refiner` (default
 *   ROUTER_DEFAULTS.discoveryMs).
 */
import type { EpsFn } from '@diffusevae/pipeline';
import { ROUTER_DEFAULTS, envInt, envOneOf, natsEps, routedEps, type Env, type EpsCallOptions, type RouterSettings, type RouterStats } from '@diffusevae/service-kit';

type NatsConnection = Parameters<typeof natsEps>[0];

export const EPS_ROUTINGS = ['least-outstanding', 'queue-group'] as const;

export interface RoutingConfig extends RouterSettings {
  /** EPS_ROUTING */
  mode: (typeof EPS_ROUTINGS)[number];
}

/** Reads the settings above; a bad value is a ConfigError naming the variable. */
export function routingConfig(env: Env = process.env): RoutingConfig {
  return {
    mode: envOneOf(env, 'EPS_ROUTING', EPS_ROUTINGS, 'least-outstanding'),
    minPart: envInt(env, 'EPS_MIN_PART', ROUTER_DEFAULTS.minPart, 1, 65_536),
    discoveryMs: envInt(env, 'EPS_DISCOVERY_MS', ROUTER_DEFAULTS.discoveryMs, 100, 3_600_000),
    discoveryWaitMs: ROUTER_DEFAULTS.discoveryWaitMs,
  };
}

export interface SchedulerEps {
  eps: EpsFn;
  /** the router's counters ($SRV.STATS `routing`); undefined with EPS_ROUTING=queue-group */
  stats(): RouterStats | undefined;
  stop(): void;
}

/** The scheduler's EpsFn under `config`; `onDrop` is told of a replica dropped after a failed call. */
export function schedulerEps(
  nc: NatsConnection,
  opts: EpsCallOptions & { config: RoutingConfig; onDrop?: (instanceId: string, reason: unknown) => void },
): SchedulerEps {
  const call: EpsCallOptions = { timeoutMs: opts.timeoutMs, set: opts.set, ...(opts.conditioning ? { conditioning: opts.conditioning } : {}) };
  if (opts.config.mode === 'queue-group') return { eps: natsEps(nc, call), stats: () => undefined, stop: () => {} };
  const { minPart, discoveryMs, discoveryWaitMs } = opts.config;
  const router = routedEps(nc, { ...call, minPart, discoveryMs, discoveryWaitMs, ...(opts.onDrop ? { onDrop: opts.onDrop } : {}) });
  return { eps: router.eps, stats: () => router.stats, stop: () => router.stop() };
}
