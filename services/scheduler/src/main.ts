import { setSubject } from '@diffusevae/contracts';
import { noiseConditioning, readManifests } from '@diffusevae/models';
import { jobLogger, kvCheckpoints, natsProgress, natsTakeovers, runService, schedulerMetrics, serve, type CheckpointStore, type EndpointSpec } from '@diffusevae/service-kit';
import { ContinuousBatcher } from './continuous.js';
import { checkSchedule, refineHandler } from './refine.js';
import { routingConfig, schedulerEps } from './routing.js';

// No model here: the scheduler reads each set's manifest (shapes, schedule, conditioning) and calls that set's refiners
// per step. Every set of MODEL_DIR gets its own continuous batcher (a tick is one network's batch) and its own subject.
await runService('scheduler', async ({ nc, config, metrics, log }) => {
  const manifests = await readManifests(config.modelDirs);
  for (const m of manifests) checkSchedule(m.schedule);
  const { checkpointIntervalMs, checkpointTtlMs, ...limits } = config.scheduler;
  const routingSettings = routingConfig();
  let checkpoints: CheckpointStore | undefined;
  if (checkpointIntervalMs > 0) {
    // without JetStream the scheduler still serves; a job it loses restarts from step 0 instead of resuming
    checkpoints = await kvCheckpoints(nc, { ttlMs: checkpointTtlMs, replicas: config.jetstreamReplicas }).catch((e: unknown) => {
      log.warn({ err: e }, `no checkpoints (the NATS server needs JetStream: nats-server -js): ${(e as Error).message}`);
      return undefined;
    });
  }
  const stopping = new AbortController();
  const progress = natsProgress(nc);
  const takeovers = checkpoints ? natsTakeovers(nc) : undefined;
  const perSet = manifests.map((manifest) => {
    const { channels: c, resolution: r } = manifest.image;
    const conditioning = noiseConditioning(manifest);
    // ε calls split over the set's refiner replicas by their outstanding work (EPS_ROUTING, routing.ts)
    const routing = schedulerEps(nc, {
      set: manifest.name,
      timeoutMs: config.epsTimeoutMs,
      conditioning,
      config: routingSettings,
      onDrop: (id, e) => log.warn({ refiner: id, set: manifest.name, err: e }, `refiner ${id} dropped from routing of ${manifest.name}: ${(e as Error).message}`),
    });
    const batcher: ContinuousBatcher = new ContinuousBatcher(routing.eps, {
      imageShape: [c, r, r],
      conditioning: conditioning === 'continuous' ? 'noiseLevel' : 'timestep',
      maxBatch: config.refiner.maxBatch,
      ...limits,
      onTick: (t) => m.tick(t),
      onEpsRetry: () => m.epsRetries.inc(),
    });
    const handler = refineHandler({
      batcher,
      stopping: stopping.signal,
      manifest,
      progress,
      ...(checkpoints && takeovers ? { checkpoints, checkpointIntervalMs, takeovers } : {}),
      // the key is <job id>.<first sample>: the line carries the job
      onCheckpointError: (e, key) => jobLogger(log, key.split('.')[0]!).warn({ checkpoint: key, err: e }, `checkpoint: ${(e as Error).message}`),
    });
    return { name: manifest.name, routing, batcher, handler };
  });
  // the metrics add the sets up: queue depth and ticks of the whole replica
  const m = schedulerMetrics(metrics, () => sumStats(perSet.map((s) => s.batcher.stats)));
  // each set's endpoint reports that set's batcher and routing in $SRV.STATS `data`
  const endpoints: EndpointSpec[] = perSet.map((s) => ({
    name: 'refine',
    set: s.name,
    subject: setSubject('refine', s.name),
    handler: s.handler,
    stats: () => ({ ...s.batcher.stats, routing: s.routing.stats() }),
  }));
  const served = await serve(nc, {
    key: 'scheduler',
    endpoints,
    metrics,
    log,
  });
  return {
    // SIGTERM: take no more requests, then hand the ones in flight back (checkpointed) rather than finish them all
    stop: async () => {
      const drained = served.stop();
      stopping.abort();
      await drained;
      for (const s of perSet) s.routing.stop();
    },
  };
});

/** The batchers' counters added up (maxima for the per-tick maximum). */
function sumStats(all: ContinuousBatcher['stats'][]): ContinuousBatcher['stats'] {
  return all.reduce((a, b) => ({
    jobs: a.jobs + b.jobs,
    ticks: a.ticks + b.ticks,
    imageSteps: a.imageSteps + b.imageSteps,
    maxJobsPerTick: Math.max(a.maxJobsPerTick, b.maxJobsPerTick),
    epsRetries: a.epsRetries + b.epsRetries,
    active: a.active + b.active,
    queued: a.queued + b.queued,
  }));
}
