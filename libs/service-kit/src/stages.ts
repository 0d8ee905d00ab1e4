import { setTimeout as sleep } from 'node:timers/promises';
import { HANDOVER, HEADERS, PlatformError, float32, setSubject, int32, maxItemsPerMessage, type ProgressEvent, type RefineParams, type TensorMap } from '@diffusevae/contracts';
import type { EpsFn, RefineOptions, Stages, StepProgress } from '@diffusevae/pipeline';
import type { NoiseConditioning } from '@diffusevae/models';
import { Tensor } from '@diffusevae/tensor';
import type { NatsConnection } from '@nats-io/transport-node';
import { callService, chunks, replyTensor } from './client.js';
import { checkpointKey } from './checkpoints.js';
import { Handover, cancelSubject, decodeProgress, isHeartbeat, newProgressSubject } from './progress.js';

/** The server's limit (1 MiB unless configured); every message a client sends or asks for stays under it. */
function maxPayload(nc: NatsConnection): number {
  return nc.info?.max_payload ?? 1024 * 1024;
}

const slice = (t: Tensor, [s, e]: [number, number]) => float32(t.data.subarray(s * t.itemSize, e * t.itemSize), [e - s, ...t.shape.slice(1)]);
const concat = (parts: Tensor[]) => (parts.length === 1 ? parts[0]! : Tensor.concatBatch(parts));

/**
 * ε_θ over NATS on the refiners' queue group: the batch is split so that each request fits max_payload, and the
 * pieces go out concurrently. routedEps (router.ts) spreads a batch over the replicas by their outstanding work.
 */
export function natsEps(nc: NatsConnection, opts: EpsCallOptions): EpsFn {
  const subject = setSubject('eps', opts.set);
  return (xT, t, cond) => epsOver(nc, subject, xT, t, cond, opts);
}

export interface EpsCallOptions {
  timeoutMs: number;
  /** the model set whose refiners are called (its subjects: setSubject) */
  set: string;
  /**
   * what the refiners of the set are conditioned on (manifest schedule.noiseConditioning): the per-sample levels go
   * out as int32 `t` (discrete, the default) or float32 `noise_level` (continuous)
   */
  conditioning?: NoiseConditioning;
}

/** One ε_θ call on `subject` (the queue group's, or one replica's own), in pieces that fit max_payload. */
export async function epsOver(nc: NatsConnection, subject: string, xT: Tensor, levels: readonly number[], cond: Tensor, opts: EpsCallOptions): Promise<Tensor> {
  if (levels.length !== xT.batch) throw new Error(`eps: ${levels.length} timesteps or noise levels for a batch of ${xT.batch}`);
  const per = maxItemsPerMessage(maxPayload(nc), (2 * xT.itemSize + 1) * 4);
  const level = (r: [number, number]): TensorMap =>
    opts.conditioning === 'continuous' ? { noise_level: float32(Float32Array.from(levels.slice(r[0], r[1])), [r[1] - r[0]]) } : { t: int32(levels.slice(r[0], r[1])) };
  const parts = await Promise.all(
    chunks(xT.batch, per).map(async (r) => {
      const tensors = { x_t: slice(xT, r), ...level(r), cond: slice(cond, r) };
      return replyTensor(await callService(nc, subject, tensors, undefined, opts), 'eps', subject);
    }),
  );
  return concat(parts);
}

export interface NatsStagesOptions {
  /** the model set whose services are called (manifest.name): each stage on its subject for the set (setSubject) */
  set: string;
  /** [C, H, W] of the model set (manifest.image): sizes decode replies under max_payload */
  imageShape: readonly [number, number, number];
  /** encode and decode calls */
  timeoutMs: number;
  /** one refine call: the whole reverse process */
  refineTimeoutMs: number;
  /** with onStep: publish progress every this many steps (default 1, as in-process) */
  progressEvery?: number;
  /** with onStep: and at most once per this many ms, the last step always (default 0: every progressEvery steps) */
  progressIntervalMs?: number;
  /**
   * with onStep: x̂_0 (as big as the batch) comes with at most one step per this many ms, the first always;
   * the others' StepProgress has no predOriginal (default 0: every step)
   */
  previewIntervalMs?: number;
  /**
   * a refine call whose scheduler sent nothing (no step, no heartbeat) for this long is taken for lost and sent
   * again, resuming from its checkpoint (default DEFAULT_LIVENESS_MS); the scheduler beats four times as often
   */
  livenessTimeoutMs?: number;
  /** tries of one refine call that failed transiently (default DEFAULT_REFINE_ATTEMPTS) */
  refineAttempts?: number;
}

/** A scheduler silent for this long (ms) is taken for dead: kill -9 is noticed in seconds, not at REFINE_TIMEOUT_MS. */
export const DEFAULT_LIVENESS_MS = 5000;
export const DEFAULT_REFINE_ATTEMPTS = 3;

/**
 * The pipeline's stages over NATS: encode → encoder, decode → vae-decoder, refine → scheduler. Batches are
 * split to fit max_payload; refine chunks carry their firstSample, so the noise (keyed by sample index) and
 * hence the result are those of one big request. onStep gets one event per step for the whole batch.
 * An AbortSignal publishes a cancel to each chunk's scheduler and rejects with CANCELLED at once (with a Handover
 * reason: after the schedulers saved their checkpoints). A chunk whose scheduler dies (silence past
 * livenessTimeoutMs, no responders) is sent again, and resumes from its checkpoint when RefineOptions.checkpoint
 * names the job.
 */
export function natsStages(nc: NatsConnection, opts: NatsStagesOptions): Stages {
  const imageItem = opts.imageShape.reduce((a, b) => a * b, 1);
  const call = { timeoutMs: opts.timeoutMs };
  const subjects = { encode: setSubject('encode', opts.set), decode: setSubject('decode', opts.set), refine: setSubject('refine', opts.set) };
  return {
    async encode(x) {
      const per = maxItemsPerMessage(maxPayload(nc), x.itemSize * 4);
      const replies = await Promise.all(chunks(x.batch, per).map((r) => callService(nc, subjects.encode, { x: slice(x, r) }, undefined, call)));
      return {
        mu: concat(replies.map((r) => replyTensor(r, 'mu', subjects.encode))),
        logvar: concat(replies.map((r) => replyTensor(r, 'logvar', subjects.encode))),
      };
    },
    async decode(z) {
      const per = maxItemsPerMessage(maxPayload(nc), Math.max(z.itemSize, imageItem) * 4);
      const replies = await Promise.all(chunks(z.batch, per).map((r) => callService(nc, subjects.decode, { z: slice(z, r) }, undefined, call)));
      return concat(replies.map((r) => replyTensor(r, 'x_hat', subjects.decode)));
    },
    refine: (cond, o) => refineOverNats(nc, opts, cond, o),
  };
}

function cancelled(): PlatformError {
  return new PlatformError('CANCELLED', 'refine was cancelled');
}


/** How long a handed-over request may take to save its checkpoint before the caller lets go anyway. */
const HANDOVER_WAIT_MS = 5000;

async function refineOverNats(nc: NatsConnection, opts: NatsStagesOptions, cond: Tensor, o: RefineOptions): Promise<Tensor> {
  if (o.signal?.aborted) throw o.signal.reason instanceof Handover ? o.signal.reason : cancelled();
  const init = o.init ? new Tensor(o.init, cond.shape) : undefined;
  const ranges = chunks(cond.batch, maxItemsPerMessage(maxPayload(nc), cond.itemSize * 4 * (init ? 2 : 1)));
  const liveness = opts.livenessTimeoutMs ?? DEFAULT_LIVENESS_MS;
  const heartbeatMs = Math.max(50, Math.round(liveness / 4));
  const attempts = opts.refineAttempts ?? DEFAULT_REFINE_ATTEMPTS;
  /** progress subjects of the calls in flight: where a cancel goes */
  const live = new Set<string>();
  let stop!: (e: unknown) => void;
  let stopping = false;
  const stopped = new Promise<never>((_, reject) => (stop = (e) => ((stopping = true), reject(e))));
  stopped.catch(() => {}); // a late onStep failure, after the result is in, has nobody left to tell
  const onAbort = () => stop(o.signal!.reason instanceof Handover ? o.signal!.reason : cancelled());
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const onStep = o.onStep;
  const merger = onStep && new StepMerger(ranges.length, (p) => void Promise.resolve().then(() => onStep(p)).catch(stop));
  const every = onStep ? (opts.progressEvery ?? 1) : 0;

  /** One chunk, sent again (to whichever scheduler answers) when its scheduler is gone: it resumes from its checkpoint. */
  const runChunk = async (r: [number, number], i: number): Promise<Tensor> => {
    const firstSample = (o.firstSample ?? 0) + r[0];
    const params: RefineParams = {
      seed: o.seed,
      firstSample,
      sampler: { ...o.sampler },
      progressEvery: every,
      ...(opts.progressIntervalMs ? { progressIntervalMs: opts.progressIntervalMs } : {}),
      preview: every > 0,
      ...(every > 0 && opts.previewIntervalMs ? { previewIntervalMs: opts.previewIntervalMs } : {}),
      heartbeatMs,
      ...(o.checkpoint !== undefined ? { checkpoint: checkpointKey(o.checkpoint, firstSample) } : {}),
    };
    const tensors = { cond: slice(cond, r), ...(init ? { init: slice(init, r) } : {}) };
    for (let attempt = 1; ; attempt++) {
      const subject = newProgressSubject();
      let heardAt = Date.now();
      const sub = nc.subscribe(subject, {
        callback: (err, m) => {
          heardAt = Date.now();
          if (err || !merger || isHeartbeat(m)) return;
          try {
            merger.add(i, decodeProgress(m));
          } catch (e) {
            stop(e);
          }
        },
      });
      live.add(subject);
      let watchdog: ReturnType<typeof setInterval> | undefined;
      const silent = new Promise<never>((_, reject) => {
        watchdog = setInterval(() => {
          if (Date.now() - heardAt > liveness) {
            reject(new PlatformError('SERVICE_UNAVAILABLE', `the scheduler running this request went silent (no heartbeat for ${liveness} ms)`));
          }
        }, heartbeatMs);
      });
      silent.catch(() => {});
      try {
        const call = callService(nc, setSubject('refine', opts.set), tensors, params, { timeoutMs: opts.refineTimeoutMs, headers: { [HEADERS.progressSubject]: subject } });
        call.catch(() => {});
        return replyTensor(await Promise.race([call, silent]), 'x0', setSubject('refine', opts.set));
      } catch (e) {
        if (stopping || attempt >= attempts || !PlatformError.isTransient(e)) throw e;
        // a scheduler that went silent and comes back must not run on for nobody
        nc.publish(cancelSubject(subject));
        await sleep(Math.min(2000, 200 * 2 ** (attempt - 1)));
        if (stopping) throw e;
      } finally {
        clearInterval(watchdog);
        sub.unsubscribe();
        live.delete(subject);
      }
    }
  };

  const all = Promise.all(ranges.map(runChunk));
  all.catch(() => {}); // the race below may settle first; its loser must not be an unhandled rejection
  try {
    return concat(await Promise.race([all, stopped]));
  } catch (e) {
    // stop the chunks still running (one failed, or the caller gave up); on a handover each saves a checkpoint
    // first, and the caller waits for that (bounded), so that the next try resumes from here
    const handover = e instanceof Handover;
    for (const s of live) nc.publish(cancelSubject(s), handover ? HANDOVER : undefined);
    if (handover) await Promise.race([Promise.allSettled([all]), sleep(HANDOVER_WAIT_MS)]);
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Joins the chunks' progress events: one StepProgress per step that every chunk has reported (the last always),
 * with x̂_0 when every chunk sent its part of it at that step.
 */
export class StepMerger {
  private readonly pending = new Map<number, { reported: Set<number>; previews: (Tensor | undefined)[] }>();
  constructor(
    private readonly chunks: number,
    private readonly emit: (p: StepProgress) => void,
  ) {}

  add(chunk: number, { event, preview }: { event: ProgressEvent; preview?: Tensor }): void {
    const step = this.pending.get(event.stepIndex) ?? { reported: new Set<number>(), previews: [] };
    step.reported.add(chunk);
    step.previews[chunk] = preview;
    this.pending.set(event.stepIndex, step);
    if (step.reported.size < this.chunks) return;
    // chunks throttled by time report different steps: those older than this one will never be complete
    for (const s of this.pending.keys()) if (s <= event.stepIndex) this.pending.delete(s);
    const parts = step.previews.filter((p) => p !== undefined);
    this.emit({
      stepIndex: event.stepIndex,
      steps: event.steps,
      timestep: event.timestep,
      ...(parts.length === this.chunks ? { predOriginal: concat(parts) } : {}),
    });
  }
}
