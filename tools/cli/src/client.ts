/**
 * The gateway, as any client sees it: GraphQL over HTTP (submit, job, cancel) and jobProgress over graphql-ws.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { CliFailure, EXIT, failureFromGraphQL, failureFromHttp, unreachable, type GraphQLErrorLike } from './exit.js';

export interface JobImage {
  png: string;
  width: number;
  height: number;
}

export interface Job {
  id: string;
  kind: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  error?: string | null;
  errorCode?: string | null;
  manifest?: unknown;
  images: JobImage[];
  progress?: { step: number; steps: number; etaMs?: number | null } | null;
  queuePosition?: number | null;
  attempts?: number;
  createdAt?: string;
  finishedAt?: string | null;
}

export const JOB_FIELDS = 'id kind status error errorCode manifest images { png width height } progress { step steps etaMs } queuePosition attempts createdAt finishedAt';

export interface Gateway {
  url: string;
  key?: string;
}

/** One GraphQL request; its first error, or an HTTP failure without one, is thrown as a CliFailure. */
export async function gql<T>(gw: Gateway, query: string, variables: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(gw.key ? { authorization: `Bearer ${gw.key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unreachable(gw.url, cause?.code ?? cause?.message ?? (e as Error).message);
  }
  const text = await res.text();
  let body: { data?: T | null; errors?: GraphQLErrorLike[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw failureFromHttp(res.status, text);
  }
  if (body.errors?.length) throw failureFromGraphQL(body.errors[0]!);
  if (!res.ok || !body.data) throw failureFromHttp(res.status, text);
  return body.data;
}

export async function submit(gw: Gateway, field: string, inputType: string, input: Record<string, unknown>): Promise<Job> {
  const data = await gql<Record<string, Job | null>>(gw, `mutation($input: ${inputType}!) { ${field}(input: $input) { ${JOB_FIELDS} } }`, { input });
  const job = data[field];
  if (!job) throw new CliFailure(EXIT.other, `${field}: no job in the answer`);
  return job;
}

export async function getJob(gw: Gateway, id: string): Promise<Job | null> {
  return (await gql<{ job: Job | null }>(gw, `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id })).job;
}

export async function cancelJob(gw: Gateway, id: string): Promise<Job> {
  return (await gql<{ cancelJob: Job }>(gw, `mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`, { id })).cancelJob;
}

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * Follows a job to its end over graphql-ws (jobProgress), calling onUpdate for each event; the finished job. When the
 * subscription ends without it (or the WebSocket fails for another reason than the key), polls job(id).
 */
export async function follow(gw: Gateway, id: string, onUpdate: (job: Job) => void, signal?: AbortSignal): Promise<Job> {
  const client = createClient({
    url: gw.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: gw.key ? { authorization: `Bearer ${gw.key}` } : {},
  });
  let last: Job | undefined;
  try {
    last = await new Promise<Job | undefined>((resolve, reject) => {
      let final: Job | undefined;
      const stop = client.subscribe<{ jobProgress: { job: Job } }>(
        { query: `subscription($id: ID!) { jobProgress(id: $id) { status job { ${JOB_FIELDS} } } }`, variables: { id } },
        {
          next: (msg) => {
            if (msg.errors?.length) return reject(failureFromGraphQL(msg.errors[0] as GraphQLErrorLike));
            const job = msg.data?.jobProgress.job;
            if (!job) return;
            onUpdate(job);
            if (ENDED.has(job.status)) final = job;
          },
          error: (e: unknown) => {
            if (Array.isArray(e) && e.length) return reject(failureFromGraphQL(e[0] as GraphQLErrorLike));
            const code = (e as { code?: number }).code;
            const reason = (e as { reason?: string }).reason;
            if (code === 4401 || code === 4403) return reject(failureFromGraphQL({ message: reason || 'the WebSocket was refused', extensions: { code: 'UNAUTHENTICATED' } }));
            resolve(undefined); // fall back to polling
          },
          complete: () => resolve(final),
        },
      );
      signal?.addEventListener('abort', () => {
        stop();
        resolve(undefined);
      });
    });
  } finally {
    await client.dispose();
  }
  while (!last && !signal?.aborted) {
    const job = await getJob(gw, id);
    if (!job) throw new CliFailure(EXIT.other, `job ${id}: not found (expired, or another key's)`);
    onUpdate(job);
    if (ENDED.has(job.status)) return job;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!last) throw new CliFailure(EXIT.interrupted, `job ${id}: interrupted`);
  return last;
}
