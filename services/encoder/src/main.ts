import { SUBJECTS } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { encodeHandler } from './encode.js';

await runService('encoder', async ({ nc, config, metrics, log }) => {
  const models = await ModelSet.load(config.modelDir, ['encoder'], sessionOptions(config));
  const served = await serve(nc, { key: 'encoder', endpoints: [{ name: 'encode', subject: SUBJECTS.encode, handler: encodeHandler(models) }], metrics, log });
  return {
    stop: async () => {
      await served.stop();
      await models.release();
    },
  };
});
