import { setSubject } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { decodeHandler } from './decode.js';

// every set of MODEL_DIR, each on its own subject (setSubject): a replica serves the sets its configuration names
await runService('vaeDecoder', async ({ nc, config, metrics, log }) => {
  const sets = await ModelSet.loadAll(config.modelDirs, ['decoder'], sessionOptions(config));
  const endpoints = sets.map((m) => ({ name: 'decode', set: m.name, subject: setSubject('decode', m.name), handler: decodeHandler(m) }));
  const served = await serve(nc, { key: 'vaeDecoder', endpoints, metrics, log });
  return {
    stop: async () => {
      await served.stop();
      await Promise.all(sets.map((m) => m.release()));
    },
  };
});
