import { SUBJECTS } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { decodeHandler } from './decode.js';

await runService('vaeDecoder', async ({ nc, config, metrics, log }) => {
  const models = await ModelSet.load(config.modelDir, ['decoder'], sessionOptions(config));
  const served = await serve(nc, { key: 'vaeDecoder', endpoints: [{ name: 'decode', subject: SUBJECTS.decode, handler: decodeHandler(models) }], metrics, log });
  return {
    stop: async () => {
      await served.stop();
      await models.release();
    },
  };
});
