/**
 * Resolvers over injected dependencies (no globals): the same code serves in-process stages in the tests
 * and the NATS services in production.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { PlatformError, VERSION } from '@diffusevae/contracts';
import { jobLogger, requestLogger, type Logger } from '@diffusevae/service-kit';
import type { Guard } from './auth.js';
import { failureExtensions } from './errors.js';
import { isFinished, placeOf, type Job, type JobPlace, type JobStatus, type JobStore } from './jobs.js';
import { newPreviewsOnly, type ProgressEvent } from './progress.js';
import type { ModelSets, ServedSet } from './model-sets.js';
import type { JobBus } from './kv-store.js';
import { imageSteps, type JobRunner } from './runner.js';
import type { GatewayContext } from './server.js';
import * as v from './validate.js';
import { reproduceRequest } from './reproduce.js';
import { DEFAULT_SAMPLER, INFERENCE_SCHEDULE_KINDS, SAMPLER_KINDS, TIMESTEP_SPACINGS } from '@diffusevae/schedulers';

export interface ServiceHealth {
  name: string;
  instances: number;
}

/** Where the stages run and, over NATS, how many instances of each service answered a ping. */
export type HealthProbe = () => Promise<{ mode: string; services: ServiceHealth[] }>;

export interface ResolverDeps {
  runner: JobRunner;
  jobs: JobStore;
  /** the served model sets; a mutation's `model` picks one (default: the first) */
  sets: ModelSets;
  health: HealthProbe;
  /** reaches the replica that runs a job */
  bus: JobBus;
  /** who may do what, and each key's limits */
  guard: Guard;
  /** MAX_IMAGE_STEPS: count × steps of all the jobs of one request */
  maxImageSteps: number;
  /** cancellations are logged here (the runner logs the rest of a job's life) */
  log: Logger;
  randomSeed?: () => number;
}

const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (x) => x,
  parseValue: (x) => x,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Job ids are UUIDs; anything else is refused before it reaches NATS (where it would become part of a subject). */
export function checkJobId(id: string, field = 'id'): void {
  if (typeof id !== 'string' || !JOB_ID.test(id)) {
    const shown = typeof id === 'string' ? JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id) : String(id);
    throw new GraphQLError(`${field}: must be a job id (a UUID such as 0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64), got ${shown}${typeof id === 'string' && id.length > 40 ? ` (${id.length} characters)` : ''}`, {
      extensions: { code: 'BAD_USER_INPUT', field },
    });
  }
}

/** How long cancelJob waits for a running job to stop before it answers with the state it has. */
const CANCEL_WAIT_MS = 5000;

function notFound(id: string): GraphQLError {
  return new GraphQLError(`job ${id} not found (finished jobs are kept for a while, then forgotten)`, { extensions: { code: 'NOT_FOUND' } });
}

/** jobs(first): a page's size; smaller when it carries images (a finished job of 64 with its stage 1 is about 300 KB) */
export const PAGE = { default: 20, max: 100, maxWithImages: 10 };
const IMAGE_FIELDS: ReadonlySet<string> = new Set(['images', 'stage1', 'preview']);

/** Whether the field's selection names one of `names` at any depth (through fragments too). */
function selects(info: GraphQLResolveInfo, names: ReadonlySet<string>): boolean {
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): boolean =>
    !!set &&
    set.selections.some((sel) => {
      if (sel.kind === Kind.FIELD) return names.has(sel.name.value) || walk(sel.selectionSet);
      if (sel.kind === Kind.INLINE_FRAGMENT) return walk(sel.selectionSet);
      if (seen.has(sel.name.value)) return false;
      seen.add(sel.name.value);
      return walk(info.fragments[sel.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((n) => walk(n.selectionSet));
}

/** A jobs() cursor: opaque to clients (base64url of the job's place in the list). */
export function encodeCursor(place: JobPlace): string {
  return Buffer.from(`j1:${place.createdMs}:${place.id}`).toString('base64url');
}

export function decodeCursor(cursor: string, field = 'after'): JobPlace {
  const m = cursor.length <= 200 ? /^j1:(\d{1,15}):([0-9a-f-]{36})$/i.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!m || !JOB_ID.test(m[2]!)) throw PlatformError.badInput(field, `not a cursor of jobs() (pass the endCursor or an edge's cursor of a previous page as it is), got ${JSON.stringify(cursor.slice(0, 40))}`);
  return { createdMs: Number(m[1]), id: m[2]! };
}

/** A finished-but-failed (or cancelled) job becomes the mutation's error, with the job's code. */
function finishedOrThrow(job: Job): Job {
  if (job.status === 'FAILED' || job.status === 'CANCELLED') throw new GraphQLError(job.error.message, { extensions: { ...failureExtensions(job.error), jobId: job.id } });
  return job;
}

/** One entry of `models`: what a client builds a form from (enum values as the resolvers map them). */
export function modelInfo(set: ServedSet, maxImageSteps: number) {
  const { manifest: m, limits, identity } = set.model;
  const r = limits.resolution;
  const scales = v.allowedScales(r);
  return {
    name: set.name,
    default: set.isDefault,
    dataset: m.dataset,
    resolution: r,
    channels: limits.channels,
    latentDim: set.model.latentDim,
    numTrainTimesteps: limits.numTrainTimesteps,
    formulation: limits.formulation,
    noiseConditioning: limits.noiseConditioning,
    createdAt: m.createdAt,
    files: Object.entries(identity.files).map(([role, f]) => ({ role, ...f })),
    limits: {
      maxCount: v.LIMITS.maxCount,
      maxPoints: v.LIMITS.maxPoints,
      maxSteps: Math.min(v.LIMITS.maxSteps, limits.numTrainTimesteps),
      maxImageSteps,
      maxSeed: v.LIMITS.maxSeed,
      inputSizes: [
        { kind: 'reconstruct', width: r, height: r },
        { kind: 'denoise', width: r, height: r },
        ...scales.map((scale) => ({ kind: 'superResolve', scale, width: r / scale, height: r / scale })),
        { kind: 'interpolate', width: r, height: r },
      ],
    },
    samplers: SAMPLER_KINDS,
    // a set conditioned on the timestep walks the training schedule only
    inferenceSchedules: limits.noiseConditioning === 'continuous' ? INFERENCE_SCHEDULE_KINDS : [],
    timestepSpacings: TIMESTEP_SPACINGS,
    varianceTypes: ['fixedlarge', 'fixedsmall'],
    scales,
    defaults: { sampler: DEFAULT_SAMPLER, ...v.DEFAULTS },
  };
}

export function createResolvers(deps: ResolverDeps) {
  const { runner, jobs, sets } = deps;
  const randomSeed = deps.randomSeed ?? (() => randomInt(0, v.LIMITS.maxSeed));
  const started = Date.now();

  const { guard } = deps;

  // the served sets, in MODEL_DIR order (the default first)
  const models = sets.list.map((set) => modelInfo(set, deps.maxImageSteps));

  /**
   * A job mutation: the set its input names (`input.model`; default: the default set), then the rest of the input
   * against that set's limits.
   */
  const jobMutation =
    <I extends { model?: string | null }>(validate: (i: I, limits: v.ModelLimits, randomSeed: () => number) => v.JobRequest) =>
    (_: unknown, a: { input: I }, ctx: GatewayContext): Promise<Job> => {
      const set = sets.pick(a.input.model);
      return submit(ctx, set, validate(a.input, set.model.limits, randomSeed));
    };

  const submit = async (ctx: GatewayContext, set: ServedSet, req: v.JobRequest): Promise<Job> => {
    guard.require(ctx.principal, 'submit');
    const cost = imageSteps(req);
    if (ctx.imageSteps + cost > deps.maxImageSteps) {
      const what =
        ctx.imageSteps === 0 ? `count × steps = ${req.count} × ${req.sampler.steps} = ${cost}` : `the jobs of this request add up to ${ctx.imageSteps + cost} image-steps (count × steps), which`;
      throw PlatformError.badInput('input.sampler.steps', `${what} is over this gateway's limit of ${deps.maxImageSteps} image-steps per request (MAX_IMAGE_STEPS)`);
    }
    ctx.imageSteps += cost;
    const id = randomUUID();
    const undo = await guard.admitJob(ctx.principal, id, cost, 'input.sampler.steps');
    let submitted;
    try {
      submitted = await runner.submit(req, { id, requestId: ctx.requestId, model: set.name, ...(guard.open ? {} : { owner: ctx.principal.id }) });
    } catch (e) {
      await undo().catch(() => {});
      throw e;
    }
    return req.wait ? finishedOrThrow(await submitted.done) : submitted.job;
  };

  /** The job if this caller may see it: another key's job is as unknown as a job that never was. */
  const visible = async (ctx: GatewayContext, id: string): Promise<Job | undefined> => {
    const job = await jobs.get(id);
    return job && guard.canSee(ctx.principal, job) ? job : undefined;
  };

  return {
    JSON: JSONScalar,
    // GraphQL enum names → the settings' values, so validation and pipelines see 'leading', not 'LEADING'.
    TimestepSpacing: { LEADING: 'leading', TRAILING: 'trailing', LINSPACE: 'linspace', QUAD: 'quad' },
    VarianceType: { FIXEDLARGE: 'fixedlarge', FIXEDSMALL: 'fixedsmall' },
    NoiseConditioning: { DISCRETE: 'discrete', CONTINUOUS: 'continuous' },
    InterpolationSpace: { VAE_LATENT: 'vae-latent', DDPM_LATENT: 'ddpm-latent' },
    JobKind: { GENERATE: 'generate', SUPER_RESOLVE: 'superResolve', DENOISE: 'denoise', RECONSTRUCT: 'reconstruct', INTERPOLATE: 'interpolate' },

    Query: {
      models: () => models,
      job: async (_: unknown, args: { id: string }, ctx: GatewayContext) => {
        guard.require(ctx.principal, 'read');
        checkJobId(args.id);
        return (await visible(ctx, args.id)) ?? null;
      },
      jobs: async (_: unknown, args: { first?: number | null; after?: string | null; status?: JobStatus | null }, ctx: GatewayContext, info: GraphQLResolveInfo) => {
        guard.require(ctx.principal, 'read');
        const first = args.first ?? PAGE.default;
        const withImages = selects(info, IMAGE_FIELDS);
        const max = withImages ? PAGE.maxWithImages : PAGE.max;
        if (!Number.isInteger(first) || first < 1 || first > max) {
          throw PlatformError.badInput('first', `must be an integer in [1, ${max}]${withImages ? ' when the page asks for images, stage1 or preview (read those with job(id))' : ''}, got ${first}`);
        }
        const after = args.after == null ? undefined : decodeCursor(args.after);
        const page = await jobs.list({
          ...(guard.seesEveryJob(ctx.principal) ? {} : { owner: ctx.principal.id }),
          ...(args.status ? { status: args.status } : {}),
          ...(after ? { after } : {}),
          limit: first + 1,
        });
        const edges = page.slice(0, first).map((node) => ({ cursor: encodeCursor(placeOf(node)), node }));
        return { edges, pageInfo: { hasNextPage: page.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
      },
      health: async () => {
        const h = await deps.health();
        const missing = h.services.filter((s) => s.instances === 0).length;
        const status = missing === 0 ? 'ok' : missing === h.services.length ? 'down' : 'degraded';
        return { status, version: VERSION, uptimeSeconds: (Date.now() - started) / 1000, ...h };
      },
    },

    Mutation: {
      generate: jobMutation(v.validateGenerate),
      superResolve: jobMutation(v.validateSuperResolve),
      denoise: jobMutation(v.validateDenoise),
      reconstruct: jobMutation(v.validateReconstruct),
      interpolate: jobMutation(v.validateInterpolate),
      reproduce: (_: unknown, a: { manifest: unknown; image?: number | null; wait?: boolean | null }, ctx: GatewayContext) => {
        const { set, request } = reproduceRequest(a.manifest, a.image, a.wait, sets);
        return submit(ctx, set, request);
      },
      cancelJob: async (_: unknown, { id }: { id: string }, ctx: GatewayContext) => {
        guard.require(ctx.principal, 'submit');
        checkJobId(id);
        const log = jobLogger(requestLogger(deps.log, ctx.requestId), id);
        for (;;) {
          const entry = await jobs.entry(id);
          if (!entry || !guard.canSee(ctx.principal, entry.job)) throw notFound(id);
          const job = entry.job;
          if (isFinished(job)) return job;
          if (job.status === 'QUEUED') {
            // no runner has it: end it here (compare-and-set: a runner taking it meanwhile wins, and we go again)
            const at = new Date().toISOString();
            const cancelled: Job = {
              id: job.id,
              kind: job.kind,
              createdAt: job.createdAt,
              attempts: job.attempts,
              ...(job.owner ? { owner: job.owner } : {}),
              status: 'CANCELLED',
              updatedAt: at,
              finishedAt: at,
              error: { code: 'CANCELLED', message: 'the job was cancelled' },
            };
            if (await jobs.update(cancelled, entry.revision)) {
              log.info({ kind: job.kind, code: 'CANCELLED', keyId: ctx.principal.id }, 'job cancelled');
              deps.bus.finished(id);
              await guard.release(job.owner, id).catch(() => {}); // a lost release heals (active-jobs.ts)
              return cancelled;
            }
            continue;
          }
          // RUNNING: its runner stops it, wherever it is; a runner that takes it later (after a redelivery) sees
          // the request in the store
          await jobs.requestCancel(id);
          deps.bus.cancel(id);
          log.info({ kind: job.kind, keyId: ctx.principal.id }, 'job cancel requested');
          const stopped = await Promise.race([runner.finished(id), new Promise<undefined>((r) => setTimeout(() => r(undefined), CANCEL_WAIT_MS).unref())]);
          return stopped ?? (await jobs.get(id)) ?? job;
        }
      },
    },

    Subscription: {
      jobProgress: {
        subscribe: async (_: unknown, args: { id: string }, ctx: GatewayContext) => {
          guard.require(ctx.principal, 'read');
          checkJobId(args.id);
          if (!(await visible(ctx, args.id))) throw notFound(args.id);
          const it = await jobs.watch(args.id);
          if (!it) throw notFound(args.id);
          return newPreviewsOnly(it);
        },
        resolve: ({ job, newPreview }: ProgressEvent) => ({
          jobId: job.id,
          status: job.status,
          progress: 'progress' in job ? job.progress : null,
          preview: newPreview ?? null,
          job,
        }),
      },
    },

    SamplerSettings: {
      eta: (s: { kind: string; eta?: number }) => (s.kind === 'DDIM' ? (s.eta ?? null) : null),
    },

    // a LINEAR schedule written without its kind (older manifests) is still LINEAR
    InferenceSchedule: {
      kind: (s: { kind?: string }) => s.kind ?? 'LINEAR',
    },

    Job: {
      images: (job: Job) => (job.status === 'SUCCEEDED' ? job.images : []),
      stage1: (job: Job) => (job.status === 'SUCCEEDED' ? job.stage1 : null),
      manifest: (job: Job) => (job.status === 'SUCCEEDED' ? job.manifest : null),
      error: (job: Job) => (job.status === 'FAILED' || job.status === 'CANCELLED' ? job.error.message : null),
      errorCode: (job: Job) => (job.status === 'FAILED' || job.status === 'CANCELLED' ? job.error.code : null),
      progress: (job: Job) => ('progress' in job ? job.progress : null),
      // live from the queue, which every replica shares
      queuePosition: (job: Job) => (job.status === 'QUEUED' ? runner.queuePosition(job) : null),
      preview: (job: Job) => (job.status === 'RUNNING' || job.status === 'CANCELLED' ? (job.preview ?? null) : null),
      finishedAt: (job: Job) => (isFinished(job) ? job.finishedAt : null),
    },
  };
}
