import { SERVICES } from '@diffusevae/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HealthProbe } from './resolvers.js';

/**
 * Counts the instances of each service that answer the micro protocol's $SRV.PING within `maxWaitMs`
 * (every instance answers; a plain request would hear only the first).
 */
export function natsHealth(nc: NatsConnection, maxWaitMs = 500): HealthProbe {
  return async () => {
    const counts = new Map<string, number>(Object.values(SERVICES).map((s) => [s.name, 0]));
    for await (const msg of await nc.requestMany('$SRV.PING', undefined, { strategy: 'timer', maxWait: maxWaitMs })) {
      let name: unknown;
      try {
        name = (msg.json() as { name?: unknown }).name;
      } catch {
        continue; // not a micro-protocol answer
      }
      if (typeof name === 'string' && counts.has(name)) counts.set(name, counts.get(name)! + 1);
    }
    return { mode: 'nats', services: [...counts].map(([name, instances]) => ({ name, instances })) };
  };
}
