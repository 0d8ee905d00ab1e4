import { describe, expect, it } from 'vitest';
import { downloadName, elapsedMs, formatDuration, formatEta, formatTime, kindLabel, pngDataUrl, progressPercent, progressText, queueText } from './format';

describe('formatEta', () => {
  it('rounds up to seconds under a minute', () => {
    expect(formatEta(0)).toBe('0 s');
    expect(formatEta(2100)).toBe('3 s');
    expect(formatEta(59_000)).toBe('59 s');
  });
  it('says minutes and hours beyond', () => {
    expect(formatEta(60_000)).toBe('1 min');
    expect(formatEta(65_000)).toBe('1 min 5 s');
    expect(formatEta(3_600_000 + 120_000)).toBe('1 h 2 min');
  });
  it('is "…" while the pace is unknown', () => {
    expect(formatEta(null)).toBe('…');
    expect(formatEta(undefined)).toBe('…');
    expect(formatEta(Number.NaN)).toBe('…');
    expect(formatEta(-1)).toBe('…');
  });
});

describe('progress', () => {
  it('reads "step n / N · ETA x s"', () => {
    expect(progressText({ step: 12, steps: 50, etaMs: 3000 })).toBe('step 12 / 50 · ETA 3 s');
    expect(progressText({ step: 1, steps: 50, etaMs: null })).toBe('step 1 / 50 · ETA …');
  });
  it('is a clamped percentage', () => {
    expect(progressPercent({ step: 25, steps: 50 })).toBe(50);
    expect(progressPercent({ step: 60, steps: 50 })).toBe(100);
    expect(progressPercent(null)).toBe(0);
    expect(progressPercent({ step: 1, steps: 0 })).toBe(0);
  });
});

describe('labels and names', () => {
  it('names job kinds as the form does', () => {
    expect(kindLabel('SUPER_RESOLVE')).toBe('Super-resolution');
    expect(kindLabel('GENERATE')).toBe('Generate');
    expect(kindLabel('SOMETHING_NEW')).toBe('SOMETHING_NEW');
  });
  it('says the queue position', () => {
    expect(queueText(0)).toBe('next to run');
    expect(queueText(1)).toBe('1 job ahead');
    expect(queueText(3)).toBe('3 jobs ahead');
    expect(queueText(null)).toBe('waiting for a runner');
  });
  it('names downloads diffusevae-<jobid8>-<i>.png', () => {
    expect(downloadName('174b161f-5b43-42ce-a261-641434c94fe8', 1)).toBe('diffusevae-174b161f-1.png');
    expect(downloadName('174b161f-5b43', 12, 'stage1-')).toBe('diffusevae-174b161f-stage1-12.png');
  });
  it('keeps the API PNG bytes in the data URL', () => {
    expect(pngDataUrl({ png: 'iVBORw0KGgo=' })).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(pngDataUrl({ png: 'data:image/png;base64,AAAA' })).toBe('data:image/png;base64,AAAA');
  });
});

describe('times', () => {
  it('shows the time of day today, the date before', () => {
    const now = new Date(2026, 11, 3, 15, 0, 0);
    expect(formatTime(new Date(2026, 11, 3, 9, 5, 7).toISOString(), now)).toBe('09:05:07');
    expect(formatTime(new Date(2026, 11, 1, 9, 5, 7).toISOString(), now)).toBe('1 Dec 09:05');
    expect(formatTime(null, now)).toBe('');
    expect(formatTime('not a date', now)).toBe('not a date');
  });
  it('measures and formats durations', () => {
    expect(elapsedMs('2026-12-03T09:00:00.000Z', '2026-12-03T09:00:01.500Z')).toBe(1500);
    expect(elapsedMs('2026-12-03T09:00:00.000Z', null)).toBeNull();
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(90_000)).toBe('1 min 30 s');
    expect(formatDuration(null)).toBe('');
  });
});
