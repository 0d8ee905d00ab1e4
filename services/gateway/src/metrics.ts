/**
 * The gateway's metrics (names and buckets: gatewayMetrics in libs/service-kit): finished jobs, the queue, and
 * GraphQL operations over HTTP (an Apollo plugin). Subscriptions over graphql-ws do not pass through Apollo's
 * plugins and are not counted here.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { gatewayMetrics } from '@diffusevae/service-kit';
import { isFinished, type Job, type JobStore } from './jobs.js';
import type { JobBus } from './kv-store.js';
import { imageSteps } from './runner.js';
import type { JobRequest } from './validate.js';

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

/** A GraphQL Name (the spec's grammar), kept short. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/**
 * Operation names as label values. Clients choose them, and every distinct value is one more time series, so the
 * first `max` valid names are kept and any later one is `other`; an operation without a name is `anonymous`.
 */
export class OperationNames {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 100) {}

  label(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!NAME.test(name)) return 'other';
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(name);
    return name;
  }
}

/** `ok`, or the first error's code (`BAD_USER_INPUT`, `GRAPHQL_PARSE_FAILED`, …): a small fixed set. */
export function outcomeOf(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): string {
  if (!errors?.length) return 'ok';
  const code = errors[0]!.extensions?.['code'];
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,47}$/.test(code) ? code : 'error';
}

/** Counts and times every GraphQL operation Apollo answers over HTTP, by name, type and outcome. */
export function operationMetricsPlugin(m: GatewayMetrics, names = new OperationNames()): ApolloServerPlugin {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, operation, operationName }) {
          const seconds = (performance.now() - started) / 1000;
          const labels = { operation: names.label(operationName ?? request.operationName), type: operation?.operation ?? 'unknown' };
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          m.operations.inc({ ...labels, outcome: outcomeOf(errors) });
          m.operationDuration.observe(labels, seconds);
        },
      };
    },
  };
}

/** A job's final state: `diffusevae_jobs_total`, its duration and (succeeded, with its request) its image-steps. */
export function observeFinished(m: GatewayMetrics, job: Job, request?: JobRequest): void {
  if (!isFinished(job)) return;
  const labels = { kind: job.kind, status: job.status };
  m.jobs.inc(labels);
  const seconds = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000;
  if (Number.isFinite(seconds) && seconds >= 0) m.jobDuration.observe(labels, seconds);
  if (job.status === 'SUCCEEDED' && request) m.imageSteps.inc({ kind: job.kind }, imageSteps(request));
}

/**
 * The bus as the resolvers see it: a job they finish themselves (cancelled while queued, announced with
 * `finished`) is counted too, once its final state is read back.
 */
export function countingBus(bus: JobBus, jobs: JobStore, onFinished: (job: Job) => void): JobBus {
  return {
    cancel: (id) => bus.cancel(id),
    subscribe: (handlers) => bus.subscribe(handlers),
    finished(id) {
      bus.finished(id);
      void jobs
        .get(id)
        .then((job) => {
          if (job && isFinished(job)) onFinished(job);
        })
        .catch(() => {});
    },
  };
}
