import { encodePng } from '@diffusevae/image';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';

/** The model set the tests run on: MODEL_DIR when set (e.g. a tiny export), else models/fmnist. */
export const MODEL_DIR = process.env.MODEL_DIR || DEFAULT_MODEL_DIR;

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

/**
 * One GraphQL request over HTTP, as a client sends it. `raw` sends the body as given (for JSON GraphQL cannot
 * express); `key` goes in the Authorization header.
 */
export async function gql<T = Record<string, any>>(url: string, query: string, variables?: Record<string, unknown>, raw?: string, key?: string): Promise<GqlResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: raw ?? JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** A gray gradient PNG of w×h, base64. */
export function pngBase64(w: number, h: number, channels: 1 | 3 = 1): string {
  const data = new Float32Array(channels * w * h).map((_, i) => ((i * 37) % 255) / 255);
  return encodePng(data, w, h, channels).toString('base64');
}

export const JOB_FIELDS = 'id kind status error errorCode manifest images { png width height } stage1 { png width height } progress { step steps timestep }';
