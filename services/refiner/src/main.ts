import { SUBJECTS } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { Batcher } from './batcher.js';
import { epsHandler, epsRunner } from './eps.js';

await runService('refiner', async ({ nc, config }) => {
  const models = await ModelSet.load(config.modelDir, ['refiner'], sessionOptions(config));
  const batcher = new Batcher(epsRunner(models), config.refiner);
  const served = await serve(nc, {
    key: 'refiner',
    endpoints: [{ name: 'eps', subject: SUBJECTS.eps, handler: epsHandler(batcher, models) }],
    stats: () => batcher.stats,
  });
  return {
    stop: async () => {
      await served.stop();
      await models.release();
    },
  };
});
