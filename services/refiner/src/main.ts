import { SUBJECTS, refinerEpsSubject } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { refinerMetrics, runService, serve, sessionOptions } from '@diffusevae/service-kit';
import { Batcher } from './batcher.js';
import { epsHandler, epsRunner } from './eps.js';

await runService('refiner', async ({ nc, config, metrics, log }) => {
  const models = await ModelSet.load(config.modelDir, ['refiner'], { ...sessionOptions(config), refinerInstances: config.refiner.instances, refinerPrecision: config.refinerPrecision });
  const m = refinerMetrics(metrics);
  const batcher = new Batcher(
    epsRunner(models, (ms) => m.runDuration.observe(ms / 1000)),
    {
      maxBatch: config.refiner.maxBatch,
      maxWaitMs: config.refiner.maxWaitMs,
      onRun: ({ requests, items, ok }) => {
        m.batchSize.observe(items);
        m.batchRequests.observe(requests);
        if (!ok) m.failedRuns.inc();
      },
    },
  );
  const served = await serve(nc, {
    key: 'refiner',
    endpoints: [
      { name: 'eps', subject: SUBJECTS.eps, handler: epsHandler(batcher, models) },
      // this replica alone, on a subject of its own: where the scheduler's router sends the part of a tick it chose it for
      { name: 'eps-direct', subject: refinerEpsSubject, queue: false, handler: epsHandler(batcher, models) },
    ],
    stats: () => batcher.stats,
    metrics,
    log,
  });
  return {
    stop: async () => {
      await served.stop();
      await models.release();
    },
  };
});
