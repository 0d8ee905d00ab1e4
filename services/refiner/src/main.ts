import { refinerEpsSubject, setSubject } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { refinerMetrics, runService, serve, sessionOptions, type EndpointSpec } from '@diffusevae/service-kit';
import { Batcher } from './batcher.js';
import { epsHandler, epsRunner } from './eps.js';

// Every set of MODEL_DIR, each with its own batcher (a batch is one network's) and its own subjects: the set's queue
// group, and this replica's own subject for the set, where the scheduler's router sends the part of a tick it chose
// this replica for. A set is scaled by the replicas that name it.
await runService('refiner', async ({ nc, config, metrics, log }) => {
  const sets = await ModelSet.loadAll(config.modelDirs, ['refiner'], {
    ...sessionOptions(config),
    refinerInstances: config.refiner.instances,
    refinerPrecision: config.refinerPrecision,
  });
  const m = refinerMetrics(metrics);
  const batchers = sets.map(
    (models) =>
      new Batcher(
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
      ),
  );
  // each set's endpoints report that set's batching counters in $SRV.STATS `data`
  const endpoints: EndpointSpec[] = sets.flatMap((models, i) => {
    const [handler, stats] = [epsHandler(batchers[i]!, models), () => batchers[i]!.stats];
    return [
      { name: 'eps', set: models.name, subject: setSubject('eps', models.name), handler, stats },
      { name: 'eps-direct', set: models.name, subject: (id: string) => refinerEpsSubject(models.name, id), queue: false, handler, stats },
    ];
  });
  const served = await serve(nc, {
    key: 'refiner',
    endpoints,
    metrics,
    log,
  });
  return {
    stop: async () => {
      await served.stop();
      await Promise.all(sets.map((s) => s.release()));
    },
  };
});
