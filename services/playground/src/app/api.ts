/**
 * The playground's GraphQL client: POST /graphql (JSON) with fetch, subscriptions over graphql-ws at the same URL,
 * every failure normalised to ApiError { message, code, field } (errors.ts). The documents are constants below.
 */
import { createClient, type Client } from 'graphql-ws';
import { errorsFromResponse, fromSubscriptionError } from './errors';
import type { ApiError, Job, JobProgressEvent, JobsPage, ModelInfo } from './types';

// ---------------------------------------------------------------------------------------------------------- documents

const PROGRESS_FIELDS = 'progress { step steps timestep stepMs etaMs }';
const IMAGE = '{ png width height }';

/** What a submit returns (no images yet: the job is QUEUED). */
export const JOB_SUMMARY_FIELDS = `id kind status error errorCode queuePosition createdAt finishedAt ${PROGRESS_FIELDS}`;
/** A job with everything the main view shows. */
export const JOB_FULL_FIELDS = `${JOB_SUMMARY_FIELDS} manifest images ${IMAGE} stage1 ${IMAGE} preview ${IMAGE}`;

export const MODELS_QUERY = /* GraphQL */ `
  query PlaygroundModels {
    models {
      name default dataset resolution channels latentDim numTrainTimesteps
      limits { maxCount maxPoints maxSteps maxImageSteps maxSeed inputSizes { kind scale width height } }
      samplers inferenceSchedules timestepSpacings varianceTypes scales
      defaults {
        count points latentTemperature scale
        sampler { kind steps eta temperature timestepSpacing varianceType clipSample }
      }
    }
  }
`;

/** One mutation per job kind; all take $input and are sent with wait: false. */
export const SUBMIT_MUTATIONS = {
  generate: `mutation Generate($input: GenerateInput!) { job: generate(input: $input) { ${JOB_SUMMARY_FIELDS} } }`,
  reconstruct: `mutation Reconstruct($input: ReconstructInput!) { job: reconstruct(input: $input) { ${JOB_SUMMARY_FIELDS} } }`,
  superResolve: `mutation SuperResolve($input: SuperResolveInput!) { job: superResolve(input: $input) { ${JOB_SUMMARY_FIELDS} } }`,
  denoise: `mutation Denoise($input: DenoiseInput!) { job: denoise(input: $input) { ${JOB_SUMMARY_FIELDS} } }`,
  interpolate: `mutation Interpolate($input: InterpolateInput!) { job: interpolate(input: $input) { ${JOB_SUMMARY_FIELDS} } }`,
} as const;

export const REPRODUCE_MUTATION = /* GraphQL */ `
  mutation Reproduce($m: JSON!) { job: reproduce(manifest: $m, wait: false) { ${JOB_SUMMARY_FIELDS} } }
`;

export const CANCEL_MUTATION = /* GraphQL */ `
  mutation Cancel($id: ID!) { job: cancelJob(id: $id) { ${JOB_SUMMARY_FIELDS} } }
`;

export const JOB_QUERY = /* GraphQL */ `
  query PlaygroundJob($id: ID!) { job(id: $id) { ${JOB_FULL_FIELDS} } }
`;

/** The history list: no images (the page size would drop to 10). */
export const JOBS_QUERY = /* GraphQL */ `
  query PlaygroundHistory($first: Int!, $after: String) {
    jobs(first: $first, after: $after) {
      edges { cursor node { id kind status createdAt finishedAt manifest errorCode } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export const JOB_PROGRESS_SUBSCRIPTION = /* GraphQL */ `
  subscription PlaygroundProgress($id: ID!) {
    jobProgress(id: $id) {
      jobId status ${PROGRESS_FIELDS} preview ${IMAGE}
      job { id kind status error errorCode queuePosition createdAt finishedAt manifest ${PROGRESS_FIELDS} images ${IMAGE} stage1 ${IMAGE} }
    }
  }
`;

// ------------------------------------------------------------------------------------------------------------ client

/** A failed request: errors[0] is what the page shows; data is whatever part came back. */
export class ApiRequestError extends Error {
  readonly errors: ApiError[];
  readonly status: number;
  constructor(errors: ApiError[], status: number) {
    super(errors[0]?.message ?? 'Request failed');
    this.name = 'ApiRequestError';
    this.errors = errors;
    this.status = status;
  }
  get first(): ApiError {
    return this.errors[0] ?? { message: this.message };
  }
}

/** Any thrown value → the ApiError to show. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiRequestError) return err.first;
  if (err instanceof DOMException && err.name === 'AbortError') return { message: 'Cancelled', code: 'ABORTED' };
  if (err instanceof Error) return { message: err.message, code: 'NETWORK_ERROR' };
  return { message: String(err) };
}

const authHeader = (key: string | null): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

/** POST /graphql. Throws ApiRequestError on any error (a partial result with errors is a failure here). */
export async function request<T>(key: string | null, query: string, variables?: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...authHeader(key) },
      body: JSON.stringify({ query, variables }),
      signal: signal ?? null,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiRequestError([{ message: 'Cannot reach the gateway: is it running?', code: 'NETWORK_ERROR' }], 0);
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const errors = errorsFromResponse(res.status, body);
  if (errors.length > 0) throw new ApiRequestError(errors, res.status);
  return (body as { data: T }).data;
}

function wsUrl(): string {
  return `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql`;
}

let wsClient: { key: string | null; client: Client } | null = null;

/** One graphql-ws client per API key (lazy: it connects with the first subscription). */
function subscriptionClient(key: string | null): Client {
  if (wsClient && wsClient.key === key) return wsClient.client;
  void wsClient?.client.dispose();
  const client = createClient({
    url: wsUrl(),
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 3,
    lazyCloseTimeout: 10_000,
  });
  wsClient = { key, client };
  return client;
}

export interface ProgressHandlers {
  next(event: JobProgressEvent): void;
  error(err: ApiError): void;
  complete(): void;
}

/** jobProgress(id) over graphql-ws; returns the unsubscribe function. */
export function subscribeJobProgress(key: string | null, id: string, handlers: ProgressHandlers): () => void {
  let done = false;
  const stop = subscriptionClient(key).subscribe<{ jobProgress: JobProgressEvent }>(
    { query: JOB_PROGRESS_SUBSCRIPTION, variables: { id } },
    {
      next: (result) => {
        if (done) return;
        if (result.errors && result.errors.length > 0) {
          done = true;
          handlers.error(fromSubscriptionError(result.errors));
          return;
        }
        if (result.data?.jobProgress) handlers.next(result.data.jobProgress);
      },
      error: (err) => {
        if (done) return;
        done = true;
        handlers.error(fromSubscriptionError(err));
      },
      complete: () => {
        if (done) return;
        done = true;
        handlers.complete();
      },
    },
  );
  return () => {
    done = true;
    stop();
  };
}

// ----------------------------------------------------------------------------------------------------- typed helpers

export async function fetchModels(key: string | null, signal?: AbortSignal): Promise<{ models: ModelInfo[] }> {
  return request<{ models: ModelInfo[] }>(key, MODELS_QUERY, undefined, signal);
}

export async function submitJob(key: string | null, kind: keyof typeof SUBMIT_MUTATIONS, input: Record<string, unknown>): Promise<Job> {
  const data = await request<{ job: Job | null }>(key, SUBMIT_MUTATIONS[kind], { input });
  if (!data.job) throw new ApiRequestError([{ message: 'The gateway returned no job.' }], 200);
  return data.job;
}

export async function reproduceJob(key: string | null, manifest: unknown): Promise<Job> {
  const data = await request<{ job: Job | null }>(key, REPRODUCE_MUTATION, { m: manifest });
  if (!data.job) throw new ApiRequestError([{ message: 'The gateway returned no job.' }], 200);
  return data.job;
}

export async function cancelJob(key: string | null, id: string): Promise<Job> {
  return (await request<{ job: Job }>(key, CANCEL_MUTATION, { id })).job;
}

export async function fetchJob(key: string | null, id: string, signal?: AbortSignal): Promise<Job | null> {
  return (await request<{ job: Job | null }>(key, JOB_QUERY, { id }, signal)).job;
}

export async function fetchJobs(key: string | null, first: number, after: string | null, signal?: AbortSignal): Promise<JobsPage> {
  return (await request<{ jobs: JobsPage }>(key, JOBS_QUERY, { first, after }, signal)).jobs;
}
