import { setSubject } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { encodeHandler } from './encode.js';

// every set of MODEL_DIR, each on its own subject (setSubject): a replica serves the sets its configuration names
await runService('encoder', async ({ nc, config, metrics, log }) => {
  const sets = await ModelSet.loadAll(config.modelDirs, ['encoder'], sessionOptions(config));
  const endpoints = sets.map((m) => ({ name: 'encode', set: m.name, subject: setSubject('encode', m.name), handler: encodeHandler(m) }));
  const served = await serve(nc, { key: 'encoder', endpoints, metrics, log });
  return {
    stop: async () => {
      await served.stop();
      await Promise.all(sets.map((m) => m.release()));
    },
  };
});
