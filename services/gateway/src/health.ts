import { SERVICES } from '@diffusevae/contracts';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import type { HealthProbe } from './resolvers.js';

/**
 * Counts the instances of each service that answer the micro protocol's $SRV.PING within `maxWaitMs`
 * (every instance answers; a plain request would hear only the first). With no service up at all, every count
 * is 0: the probe reports that, it does not fail.
 */
export function natsHealth(nc: NatsConnection, maxWaitMs = 500): HealthProbe {
  return async () => {
    const counts = new Map<string, number>(Object.values(SERVICES).map((s) => [s.name, 0]));
    try {
      for await (const msg of await nc.requestMany('$SRV.PING', undefined, { strategy: 'timer', maxWait: maxWaitMs })) {
        let name: unknown;
        try {
          name = (msg.json() as { name?: unknown }).name;
        } catch {
          continue; // not a micro-protocol answer
        }
        if (typeof name === 'string' && counts.has(name)) counts.set(name, counts.get(name)! + 1);
      }
    } catch (e) {
      // nothing listens at all: every count stays 0, and health says so instead of failing
      if (!isNoResponders(e)) throw e;
    }
    return { mode: 'nats', services: [...counts].map(([name, instances]) => ({ name, instances })) };
  };
}

function isNoResponders(e: unknown): boolean {
  for (let c = e, depth = 0; c instanceof Error && depth < 3; c = c.cause, depth++) {
    if (c instanceof errors.NoRespondersError || (c instanceof errors.RequestError && c.isNoResponders())) return true;
  }
  return false;
}
