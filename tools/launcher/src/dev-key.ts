/**
 * The development API key `npm start` prints: the one saved in .diffusevae/dev-key while it still works, else a
 * new `development` key (ensureDevKey), made over NATS as the admin identity and saved for next time.
 */
import path from 'node:path';
import { ensureDevKey, KvKeyStore } from '@diffusevae/auth';
import { devKeyFile, natsConnectOptions, readDevKey, writeDevKey, type LocalNats } from '@diffusevae/service-kit';
import { connect } from '@nats-io/transport-node';
import type { BannerKey } from './banner.js';

/** `dir`: the state folder (stateDir); `root`: the repository root, which the printed path is relative to */
export async function developmentKey(root: string, dir: string, nats: LocalNats): Promise<BannerKey> {
  const nc = await connect({
    ...natsConnectOptions({ natsUrl: nats.url, natsAuth: { user: nats.user, pass: nats.pass } }, 'diffusevae-launcher'),
    maxReconnectAttempts: 10,
    timeout: 10_000,
  });
  try {
    const dev = await ensureDevKey(await KvKeyStore.open(nc), readDevKey(dir));
    if (dev.created) writeDevKey(dir, dev.key);
    return { key: dev.key, created: dev.created, file: path.relative(root, devKeyFile(dir)) };
  } finally {
    await nc.close();
  }
}
