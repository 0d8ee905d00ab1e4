import { describe, expect, it } from 'vitest';
import { applyPage, EMPTY_HISTORY, refreshFirstPage, updateListedJob, upsertJob } from './history';
import type { Job, JobsPage } from './types';

const job = (id: string, status: Job['status'] = 'SUCCEEDED'): Job => ({ id, kind: 'GENERATE', status, createdAt: '2026-12-03T09:00:00Z' });
const page = (ids: string[], hasNextPage: boolean, endCursor: string | null = ids.length ? `c-${ids.at(-1)}` : null): JobsPage => ({
  edges: ids.map((id) => ({ cursor: `c-${id}`, node: job(id) })),
  pageInfo: { hasNextPage, endCursor },
});

describe('applyPage', () => {
  it('a first page replaces the list and keeps the cursor for Load more', () => {
    const s = applyPage({ items: [job('old')], cursor: 'x', hasMore: true }, page(['a', 'b'], true), 'replace');
    expect(s.items.map((j) => j.id)).toEqual(['a', 'b']);
    expect(s).toMatchObject({ cursor: 'c-b', hasMore: true });
  });
  it('appends the next page without repeating jobs', () => {
    const s1 = applyPage(EMPTY_HISTORY, page(['a', 'b'], true), 'replace');
    const s2 = applyPage(s1, page(['b', 'c'], false), 'append');
    expect(s2.items.map((j) => j.id)).toEqual(['a', 'b', 'c']);
    expect(s2).toMatchObject({ cursor: null, hasMore: false });
  });
  it('uses the last edge cursor when endCursor is missing', () => {
    const s = applyPage(EMPTY_HISTORY, page(['a'], true, null), 'replace');
    expect(s).toMatchObject({ cursor: 'c-a', hasMore: true });
  });
  it('an empty page ends the list', () => {
    expect(applyPage(EMPTY_HISTORY, page([], false), 'replace')).toEqual(EMPTY_HISTORY);
  });
});

describe('upsertJob', () => {
  it('puts a new job first', () => {
    const s = upsertJob(applyPage(EMPTY_HISTORY, page(['a'], false), 'replace'), job('n', 'QUEUED'));
    expect(s.items.map((j) => [j.id, j.status])).toEqual([['n', 'QUEUED'], ['a', 'SUCCEEDED']]);
  });
  it('updates a listed job in place, without images', () => {
    const s0 = upsertJob(EMPTY_HISTORY, job('n', 'QUEUED'));
    const s = upsertJob(s0, { ...job('n', 'SUCCEEDED'), images: [{ png: 'x', width: 28, height: 28 }], manifest: { seed: 1 } });
    expect(s.items).toHaveLength(1);
    expect(s.items[0]).toMatchObject({ id: 'n', status: 'SUCCEEDED', manifest: { seed: 1 } });
    expect(s.items[0]!.images).toBeUndefined();
  });
});

describe('refreshFirstPage', () => {
  it('with only the first page loaded, it is the fresh page', () => {
    const s0 = applyPage(EMPTY_HISTORY, page(['a', 'b'], true), 'replace');
    const s = refreshFirstPage(s0, page(['n', 'a'], true));
    expect(s.items.map((j) => j.id)).toEqual(['n', 'a']);
    expect(s).toMatchObject({ cursor: 'c-a', hasMore: true });
  });
  it('keeps the pages loaded below, and their cursor', () => {
    const s1 = applyPage(EMPTY_HISTORY, page(['a', 'b'], true), 'replace');
    const s2 = applyPage(s1, page(['c', 'd'], true), 'append');
    const s = refreshFirstPage(s2, page(['n', 'a'], true));
    expect(s.items.map((j) => j.id)).toEqual(['n', 'a', 'b', 'c', 'd']);
    expect(s).toMatchObject({ cursor: 'c-d', hasMore: true });
  });
});

describe('updateListedJob', () => {
  it('updates a listed job and ignores others', () => {
    const s0 = upsertJob(EMPTY_HISTORY, job('n', 'QUEUED'));
    expect(updateListedJob(s0, job('n', 'RUNNING')).items[0]!.status).toBe('RUNNING');
    expect(updateListedJob(s0, job('other', 'RUNNING'))).toBe(s0);
    expect(updateListedJob(s0, job('n', 'QUEUED'))).toBe(s0);
  });
});
