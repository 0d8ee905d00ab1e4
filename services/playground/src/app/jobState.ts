/** How the current job's view follows events and fetches. Pure (no DOM, no React). */
import { kindLabel } from './format';
import type { ApiImage, Job, JobProgressEvent, JobProgressInfo } from './types';

export interface FollowedJob {
  job: Job;
  progress: JobProgressInfo | null;
  preview: ApiImage | null;
}

/** The job as a fresh fetch or an event reports it, over what the view had (previews and progress are kept). */
export function mergeJob<T extends FollowedJob>(prev: T | null, job: Job): FollowedJob {
  if (!prev || prev.job.id !== job.id) return { job, progress: job.progress ?? null, preview: job.preview ?? null };
  const merged: Job = { ...prev.job, ...job };
  // a lighter selection (no images) must not erase images already shown
  if (job.images === undefined) merged.images = prev.job.images ?? null;
  if (job.stage1 === undefined) merged.stage1 = prev.job.stage1 ?? null;
  return { ...prev, job: merged, progress: job.progress ?? prev.progress, preview: job.preview ?? prev.preview };
}

/** One jobProgress event over the view: the event's preview is only set when new, so the last one stays. */
export function applyProgressEvent<T extends FollowedJob>(prev: T | null, ev: JobProgressEvent): FollowedJob {
  const base = mergeJob(prev, { ...ev.job, status: ev.job.status ?? ev.status });
  return { ...base, progress: ev.progress ?? ev.job.progress ?? base.progress, preview: ev.preview ?? base.preview };
}

/** What the aria-live region says when the status changes. */
export function statusAnnouncement(job: Pick<Job, 'kind' | 'status' | 'images' | 'error' | 'errorCode' | 'queuePosition'>): string {
  const what = kindLabel(job.kind);
  switch (job.status) {
    case 'QUEUED':
      return `${what} job queued`;
    case 'RUNNING':
      return `${what} job running`;
    case 'SUCCEEDED': {
      const n = job.images?.length ?? 0;
      return `${what} job finished: ${n} image${n === 1 ? '' : 's'}`;
    }
    case 'CANCELLED':
      return `${what} job cancelled`;
    case 'FAILED':
      return job.errorCode === 'CANCELLED' ? `${what} job cancelled` : `${what} job failed: ${job.error ?? 'unknown error'}`;
    default:
      return '';
  }
}
