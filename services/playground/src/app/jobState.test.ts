import { describe, expect, it } from 'vitest';
import { applyProgressEvent, mergeJob, statusAnnouncement } from './jobState';
import type { Job } from './types';

const base: Job = { id: 'j1', kind: 'GENERATE', status: 'QUEUED', createdAt: '2026-12-03T09:00:00Z', queuePosition: 2 };
const img = (png: string) => ({ png, width: 28, height: 28 });

describe('applyProgressEvent', () => {
  it('follows status, progress and keeps the last preview', () => {
    let s = mergeJob(null, base);
    s = applyProgressEvent(s, { jobId: 'j1', status: 'RUNNING', progress: { step: 3, steps: 50, timestep: 940, etaMs: 4000 }, preview: img('p1'), job: { ...base, status: 'RUNNING' } });
    expect(s).toMatchObject({ job: { status: 'RUNNING' }, progress: { step: 3 }, preview: { png: 'p1' } });
    s = applyProgressEvent(s, { jobId: 'j1', status: 'RUNNING', progress: { step: 4, steps: 50, timestep: 920 }, preview: null, job: { ...base, status: 'RUNNING' } });
    expect(s).toMatchObject({ progress: { step: 4 }, preview: { png: 'p1' } });
  });
  it('a fetch without images does not erase the images shown', () => {
    const done = mergeJob(null, { ...base, status: 'SUCCEEDED', images: [img('a')], stage1: [img('b')] });
    const again = mergeJob(done, { ...base, status: 'SUCCEEDED' });
    expect(again.job.images).toEqual([img('a')]);
    expect(again.job.stage1).toEqual([img('b')]);
  });
  it('another job replaces the view', () => {
    const a = mergeJob(null, { ...base, preview: img('p') });
    const b = mergeJob(a, { ...base, id: 'j2' });
    expect(b.preview).toBeNull();
    expect(b.job.id).toBe('j2');
  });
});

describe('statusAnnouncement', () => {
  it('says what happened', () => {
    expect(statusAnnouncement({ ...base })).toBe('Generate job queued');
    expect(statusAnnouncement({ ...base, status: 'SUCCEEDED', images: [img('a'), img('b')] })).toBe('Generate job finished: 2 images');
    expect(statusAnnouncement({ ...base, status: 'FAILED', errorCode: 'CANCELLED' })).toBe('Generate job cancelled');
    expect(statusAnnouncement({ ...base, status: 'FAILED', error: 'boom' })).toBe('Generate job failed: boom');
    expect(statusAnnouncement({ ...base, kind: 'SUPER_RESOLVE', status: 'CANCELLED' })).toBe('Super-resolution job cancelled');
  });
});
