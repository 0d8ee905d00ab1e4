import { SUBJECTS } from '@diffusevae/contracts';
import { readManifest } from '@diffusevae/models';
import { natsEps, natsProgress, runService, serve } from '@diffusevae/service-kit';
import { ContinuousBatcher } from './continuous.js';
import { checkSchedule, refineHandler } from './refine.js';

// No model here: the scheduler reads the manifest (shapes, schedule) and calls the refiner service per step.
await runService('scheduler', async ({ nc, config }) => {
  const manifest = await readManifest(config.modelDir);
  checkSchedule(manifest.schedule);
  const { channels: c, resolution: r } = manifest.image;
  const batcher = new ContinuousBatcher(natsEps(nc, { timeoutMs: config.requestTimeoutMs }), {
    imageShape: [c, r, r],
    maxBatch: config.refiner.maxBatch,
    ...config.scheduler,
  });
  const handler = refineHandler({ batcher, manifest, progress: natsProgress(nc) });
  const served = await serve(nc, {
    key: 'scheduler',
    endpoints: [{ name: 'refine', subject: SUBJECTS.refine, handler }],
    stats: () => batcher.stats,
  });
  return { stop: () => served.stop() };
});
