import { SUBJECTS } from '@diffusevae/contracts';
import { readManifest } from '@diffusevae/models';
import { kvCheckpoints, natsEps, natsProgress, natsTakeovers, runService, schedulerMetrics, serve, type CheckpointStore } from '@diffusevae/service-kit';
import { ContinuousBatcher } from './continuous.js';
import { checkSchedule, refineHandler } from './refine.js';

// No model here: the scheduler reads the manifest (shapes, schedule) and calls the refiner service per step.
await runService('scheduler', async ({ nc, config, metrics }) => {
  const manifest = await readManifest(config.modelDir);
  checkSchedule(manifest.schedule);
  const { channels: c, resolution: r } = manifest.image;
  const { checkpointIntervalMs, checkpointTtlMs, ...limits } = config.scheduler;
  const m = schedulerMetrics(metrics, () => batcher.stats);
  const batcher: ContinuousBatcher = new ContinuousBatcher(natsEps(nc, { timeoutMs: config.epsTimeoutMs }), {
    imageShape: [c, r, r],
    maxBatch: config.refiner.maxBatch,
    ...limits,
    onTick: (t) => m.tick(t),
    onEpsRetry: () => m.epsRetries.inc(),
  });
  let checkpoints: CheckpointStore | undefined;
  if (checkpointIntervalMs > 0) {
    // without JetStream the scheduler still serves; a job it loses restarts from step 0 instead of resuming
    checkpoints = await kvCheckpoints(nc, { ttlMs: checkpointTtlMs }).catch((e: unknown) => {
      console.warn(`[scheduler] no checkpoints (the NATS server needs JetStream: nats-server -js): ${(e as Error).message}`);
      return undefined;
    });
  }
  const stopping = new AbortController();
  const handler = refineHandler({
    batcher,
    stopping: stopping.signal,
    manifest,
    progress: natsProgress(nc),
    ...(checkpoints ? { checkpoints, checkpointIntervalMs, takeovers: natsTakeovers(nc) } : {}),
    onCheckpointError: (e) => console.warn(`[scheduler] checkpoint: ${(e as Error).message}`),
  });
  const served = await serve(nc, {
    key: 'scheduler',
    endpoints: [{ name: 'refine', subject: SUBJECTS.refine, handler }],
    stats: () => batcher.stats,
    metrics,
  });
  return {
    // SIGTERM: take no more requests, then hand the ones in flight back (checkpointed) rather than finish them all
    stop: async () => {
      const drained = served.stop();
      stopping.abort();
      await drained;
    },
  };
});
