import { SUBJECTS } from '@diffusevae/contracts';
import { noiseConditioning, readManifest } from '@diffusevae/models';
import { jobLogger, kvCheckpoints, natsProgress, natsTakeovers, runService, schedulerMetrics, serve, type CheckpointStore } from '@diffusevae/service-kit';
import { ContinuousBatcher } from './continuous.js';
import { checkSchedule, refineHandler } from './refine.js';
import { routingConfig, schedulerEps } from './routing.js';

// No model here: the scheduler reads the manifest (shapes, schedule) and calls the refiner service per step.
await runService('scheduler', async ({ nc, config, metrics, log }) => {
  const manifest = await readManifest(config.modelDir);
  checkSchedule(manifest.schedule);
  const { channels: c, resolution: r } = manifest.image;
  const { checkpointIntervalMs, checkpointTtlMs, ...limits } = config.scheduler;
  const m = schedulerMetrics(metrics, () => batcher.stats);
  // ε calls split over the refiner replicas by their outstanding work (EPS_ROUTING, routing.ts)
  const continuous = noiseConditioning(manifest) === 'continuous';
  const routing = schedulerEps(nc, {
    timeoutMs: config.epsTimeoutMs,
    conditioning: noiseConditioning(manifest),
    config: routingConfig(),
    onDrop: (id, e) => log.warn({ refiner: id, err: e }, `refiner ${id} dropped from routing: ${(e as Error).message}`),
  });
  const batcher: ContinuousBatcher = new ContinuousBatcher(routing.eps, {
    imageShape: [c, r, r],
    conditioning: continuous ? 'noiseLevel' : 'timestep',
    maxBatch: config.refiner.maxBatch,
    ...limits,
    onTick: (t) => m.tick(t),
    onEpsRetry: () => m.epsRetries.inc(),
  });
  let checkpoints: CheckpointStore | undefined;
  if (checkpointIntervalMs > 0) {
    // without JetStream the scheduler still serves; a job it loses restarts from step 0 instead of resuming
    checkpoints = await kvCheckpoints(nc, { ttlMs: checkpointTtlMs, replicas: config.jetstreamReplicas }).catch((e: unknown) => {
      log.warn({ err: e }, `no checkpoints (the NATS server needs JetStream: nats-server -js): ${(e as Error).message}`);
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
    // the key is <job id>.<first sample>: the line carries the job
    onCheckpointError: (e, key) => jobLogger(log, key.split('.')[0]!).warn({ checkpoint: key, err: e }, `checkpoint: ${(e as Error).message}`),
  });
  const served = await serve(nc, {
    key: 'scheduler',
    endpoints: [{ name: 'refine', subject: SUBJECTS.refine, handler }],
    stats: () => ({ ...batcher.stats, routing: routing.stats() }),
    metrics,
    log,
  });
  return {
    // SIGTERM: take no more requests, then hand the ones in flight back (checkpointed) rather than finish them all
    stop: async () => {
      const drained = served.stop();
      stopping.abort();
      await drained;
      routing.stop();
    },
  };
});
