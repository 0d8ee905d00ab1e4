/**
 * A running job's progress as it reaches the job store: step / total, an ETA from measured step times, and a
 * preview of x̂₀. Steps can come every few milliseconds (batch 1 on a fast model); the store sees at most one
 * write per PROGRESS_INTERVAL_MS, always of the latest step, one write at a time so that they stay in order.
 */
import { encodePng, fromModelRange, grid } from '@diffusevae/image';
import type { StepProgress } from '@diffusevae/pipeline';
import type { Tensor } from '@diffusevae/tensor';
import type { EncodedImage } from './images.js';
import type { Job, StepInfo } from './jobs.js';

export interface ProgressOptions {
  /** PROGRESS_INTERVAL_MS: least time between two writes of a job's progress */
  progressIntervalMs: number;
  /** PREVIEW_INTERVAL_MS: least time between two preview PNGs of a job */
  previewIntervalMs: number;
}

export type ProgressWrite = (progress: StepInfo, preview: EncodedImage | undefined) => Promise<void>;

export class ProgressWriter {
  private latest: StepInfo | undefined;
  /** the newest x̂₀ not yet made into a preview (steps over NATS carry one at most every PREVIEW_INTERVAL_MS) */
  private x0: Tensor | undefined;
  private last: StepInfo | undefined;
  private preview: EncodedImage | undefined;
  private lastWrite = -Infinity;
  private lastPreview = -Infinity;
  private lastStep: { index: number; at: number } | undefined;
  private stepMs = 0;
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly write: ProgressWrite,
    private readonly opts: ProgressOptions,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** the latest step seen (for the finished job) */
  get progress(): StepInfo | undefined {
    return this.last;
  }

  /** the last preview made (a cancelled job keeps it) */
  get latestPreview(): EncodedImage | undefined {
    return this.preview;
  }

  step(s: StepProgress): void {
    const now = performance.now();
    if (this.lastStep && s.stepIndex > this.lastStep.index) {
      // per step, averaged over the last few: batches change as jobs join and leave
      const ms = (now - this.lastStep.at) / (s.stepIndex - this.lastStep.index);
      this.stepMs = this.stepMs === 0 ? ms : 0.7 * this.stepMs + 0.3 * ms;
    }
    this.lastStep = { index: s.stepIndex, at: now };
    const step = s.stepIndex + 1;
    const info: StepInfo = { step, steps: s.steps, timestep: s.timestep };
    if (this.stepMs > 0) Object.assign(info, { stepMs: round1(this.stepMs), etaMs: Math.round((s.steps - step) * this.stepMs) });
    this.last = info;
    this.latest = info;
    if (s.predOriginal) this.x0 = s.predOriginal;
    this.pump();
  }

  /** Stops writing; resolves once the write in flight (if any) is done, so that the final state comes last. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.writing;
  }

  private pump(): void {
    if (this.closed || this.writing || this.timer || !this.latest) return;
    const wait = this.lastWrite + this.opts.progressIntervalMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const info = this.latest;
    this.latest = undefined;
    this.lastWrite = performance.now();
    this.writing = this.flush(info)
      .catch(this.onError)
      .finally(() => {
        this.writing = undefined;
        this.pump();
      });
  }

  private async flush(info: StepInfo): Promise<void> {
    const x0 = this.x0;
    if (x0 && performance.now() - this.lastPreview >= this.opts.previewIntervalMs) {
      this.x0 = undefined;
      this.lastPreview = performance.now();
      this.preview = previewPng(x0);
    }
    if (!this.closed) await this.write(info, this.preview);
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** x̂₀ of every image of the job as one PNG grid (one image: the image itself). */
export function previewPng(x0: Tensor): EncodedImage {
  const [b, c, h, w] = x0.shape as [number, number, number, number];
  const pixels = fromModelRange(x0.data);
  const images = Array.from({ length: b }, (_, i) => ({ data: pixels.subarray(i * c * h * w, (i + 1) * c * h * w), width: w, height: h, channels: c }));
  const g = b === 1 ? images[0]! : grid(images, Math.ceil(Math.sqrt(b)));
  const png = encodePng(g.data, g.width, g.height, c as 1 | 3);
  return { png: png.toString('base64'), width: g.width, height: g.height };
}

/** One jobProgress event: the job as it is now, and its preview only when it differs from the last one sent. */
export interface ProgressEvent {
  job: Job;
  /** a preview not sent before on this subscription, or undefined (Job.preview always has the latest) */
  newPreview: EncodedImage | undefined;
}

/**
 * The events of one subscription: the store's states of a job, each with its preview only when it is new. Progress
 * steps come far more often than previews (PREVIEW_INTERVAL_MS), and each stored state repeats the last preview:
 * sending it again would multiply a subscriber's traffic by the steps per preview for nothing.
 */
export async function* newPreviewsOnly(states: AsyncIterable<Job>): AsyncGenerator<ProgressEvent> {
  let sent: string | undefined;
  for await (const job of states) {
    const preview = job.status === 'RUNNING' ? job.preview : undefined;
    const isNew = preview !== undefined && preview.png !== sent;
    if (isNew) sent = preview.png;
    yield { job, newPreview: isNew ? preview : undefined };
  }
}
