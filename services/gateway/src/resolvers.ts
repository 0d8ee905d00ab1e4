/**
 * Resolvers over injected dependencies (no globals): the same code serves in-process stages in the tests
 * and the NATS services in production.
 */
import { randomInt } from 'node:crypto';
import { GraphQLError, GraphQLScalarType, valueFromASTUntyped } from 'graphql';
import { VERSION } from '@diffusevae/contracts';
import { failureExtensions } from './errors.js';
import { isFinished, type Job, type JobStore } from './jobs.js';
import type { ServedModel } from './model.js';
import type { CancelBus } from './kv-store.js';
import type { JobRunner } from './runner.js';
import * as v from './validate.js';

export interface ServiceHealth {
  name: string;
  instances: number;
}

/** Where the stages run and, over NATS, how many instances of each service answered a ping. */
export type HealthProbe = () => Promise<{ mode: string; services: ServiceHealth[] }>;

export interface ResolverDeps {
  runner: JobRunner;
  jobs: JobStore;
  model: ServedModel;
  health: HealthProbe;
  /** reaches the replica that runs a job (when jobs are shared between replicas) */
  cancelBus?: CancelBus;
  randomSeed?: () => number;
}

const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (x) => x,
  parseValue: (x) => x,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

function notFound(id: string): GraphQLError {
  return new GraphQLError(`job ${id} not found (finished jobs are kept for a while, then forgotten)`, { extensions: { code: 'NOT_FOUND' } });
}

/** A finished-but-failed job becomes the mutation's error, with the job's code. */
function finishedOrThrow(job: Job): Job {
  if (job.status === 'FAILED') throw new GraphQLError(job.error.message, { extensions: { ...failureExtensions(job.error), jobId: job.id } });
  return job;
}

export function createResolvers(deps: ResolverDeps) {
  const { runner, jobs, model } = deps;
  const randomSeed = deps.randomSeed ?? (() => randomInt(0, v.LIMITS.maxSeed));
  const started = Date.now();

  const submit = async (req: v.JobRequest): Promise<Job> => {
    const { job, done } = await runner.submit(req);
    return req.wait ? finishedOrThrow(await done) : job;
  };

  return {
    JSON: JSONScalar,
    // GraphQL enum names → the settings' values, so validation and pipelines see 'leading', not 'LEADING'.
    TimestepSpacing: { LEADING: 'leading', TRAILING: 'trailing', LINSPACE: 'linspace', QUAD: 'quad' },
    VarianceType: { FIXEDLARGE: 'fixedlarge', FIXEDSMALL: 'fixedsmall' },
    JobKind: { GENERATE: 'generate', SUPER_RESOLVE: 'superResolve', DENOISE: 'denoise', RECONSTRUCT: 'reconstruct', INTERPOLATE: 'interpolate' },

    Query: {
      models: () => {
        const m = model.manifest;
        return [
          {
            name: m.name,
            dataset: m.dataset,
            resolution: m.image.resolution,
            channels: m.image.channels,
            latentDim: m.latent.dim,
            numTrainTimesteps: m.schedule.numTrainTimesteps,
            formulation: m.schedule.formulation,
            createdAt: m.createdAt,
            files: Object.entries(model.identity.files).map(([role, f]) => ({ role, ...f })),
          },
        ];
      },
      job: (_: unknown, args: { id: string }) => jobs.get(args.id),
      health: async () => {
        const h = await deps.health();
        const degraded = h.services.some((s) => s.instances === 0);
        return { status: degraded ? 'degraded' : 'ok', version: VERSION, uptimeSeconds: (Date.now() - started) / 1000, ...h };
      },
    },

    Mutation: {
      generate: (_: unknown, a: { input: v.GenerateInput }) => submit(v.validateGenerate(a.input, model.limits, randomSeed)),
      superResolve: (_: unknown, a: { input: v.SuperResolveInput }) => submit(v.validateSuperResolve(a.input, model.limits, randomSeed)),
      denoise: (_: unknown, a: { input: v.DenoiseInput }) => submit(v.validateDenoise(a.input, model.limits, randomSeed)),
      reconstruct: (_: unknown, a: { input: v.ReconstructInput }) => submit(v.validateReconstruct(a.input, model.limits, randomSeed)),
      interpolate: (_: unknown, a: { input: v.InterpolateInput }) => submit(v.validateInterpolate(a.input, model.limits, randomSeed)),
      cancelJob: async (_: unknown, { id }: { id: string }) => {
        const job = await jobs.get(id);
        if (!job) throw notFound(id);
        if (isFinished(job)) return job;
        const local = runner.cancel(id);
        if (local) return local;
        // another replica runs it: it will store the cancelled state
        deps.cancelBus?.publish(id);
        return job;
      },
    },

    Subscription: {
      jobProgress: {
        subscribe: async (_: unknown, args: { id: string }) => {
          const it = await jobs.watch(args.id);
          if (!it) throw notFound(args.id);
          return it;
        },
        resolve: (job: Job) => ({
          jobId: job.id,
          status: job.status,
          progress: 'progress' in job ? job.progress : null,
          preview: job.status === 'RUNNING' ? job.preview : null,
          job,
        }),
      },
    },

    Job: {
      images: (job: Job) => (job.status === 'SUCCEEDED' ? job.images : []),
      stage1: (job: Job) => (job.status === 'SUCCEEDED' ? job.stage1 : null),
      manifest: (job: Job) => (job.status === 'SUCCEEDED' ? job.manifest : null),
      error: (job: Job) => (job.status === 'FAILED' ? job.error.message : null),
      errorCode: (job: Job) => (job.status === 'FAILED' ? job.error.code : null),
      progress: (job: Job) => ('progress' in job ? job.progress : null),
      // live from this gateway when the job waits here; as stored (at submission) otherwise
      queuePosition: (job: Job) => (job.status === 'QUEUED' ? (runner.queuePosition(job.id) ?? job.queuePosition) : null),
      preview: (job: Job) => (job.status === 'RUNNING' ? (job.preview ?? null) : null),
      finishedAt: (job: Job) => (isFinished(job) ? job.finishedAt : null),
    },
  };
}
