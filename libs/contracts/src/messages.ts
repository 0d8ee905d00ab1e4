import type { ErrorCode } from './errors.js';

/**
 * What each endpoint takes and returns. Tensors by name (see wire.ts); `params` as listed.
 *
 * encode:  tensors { x: float32 [B,C,H,W] in [−1,1] }, params { seed?: number, firstSample?: number }
 *          → { mu: [B,Z], logvar: [B,Z], z?: [B,Z] (z = μ + σ·ε with ε from the seed, when a seed is given) }
 * decode:  tensors { z: float32 [B,Z] } → { x_hat: float32 [B,C,H,W] }
 * eps:     tensors { x_t: float32 [B,C,H,W], t: int32 [B], cond: float32 [B,C,H,W] } → { eps: float32 [B,C,H,W] }
 * refine:  tensors { cond: float32 [B,C,H,W], init?: float32 [B,C,H,W] }, params RefineParams → { x0: float32 [B,C,H,W] }
 */
export interface EncodeParams {
  seed?: number;
  firstSample?: number;
}

export interface RefineParams {
  seed: number;
  firstSample: number;
  /** SamplerSettings of @diffusevae/schedulers */
  sampler: Record<string, unknown>;
  /** publish ProgressEvent every `progressEvery` steps (0: never) */
  progressEvery?: number;
  /**
   * and at most once per this many ms (the last step always): a caller that stores progress a few times a second
   * need not wake up at every step, which on a few cores takes time from the refiner (default 0: no limit)
   */
  progressIntervalMs?: number;
  /** include the x̂_0 preview in progress events */
  preview?: boolean;
  /**
   * with preview: attach x̂_0 to at most one event per this many ms (the first event always has it). x̂_0 is as
   * big as the batch, and a caller that renders a preview once a second need not receive it at every step
   * (default 0: every event)
   */
  previewIntervalMs?: number;
  /**
   * publish a heartbeat on the progress subject at least this often (ms), also while the request waits for room:
   * the caller takes silence for a dead scheduler and sends the request again (default 0: none)
   */
  heartbeatMs?: number;
  /**
   * where the scheduler keeps this request's reverse-process checkpoints (a key of JETSTREAM.checkpointBucket,
   * `<jobId>.<firstSample>`): a request sent again with the same key resumes from the last one
   */
  checkpoint?: string;
}

/** Published on the refine request's progress subject; the body carries x̂_0 as float32 when preview is on. */
export interface ProgressEvent {
  stepIndex: number;
  steps: number;
  timestep: number;
  elapsedMs: number;
}

export interface ServiceFailure {
  code: ErrorCode;
  message: string;
  field?: string;
  /** RESOURCE_EXHAUSTED: when to try again */
  retryAfterMs?: number;
}
