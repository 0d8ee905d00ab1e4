/** The history list's pages: merge, dedupe, cursor. Pure (no DOM, no React). */
import type { Job, JobsPage } from './types';

export const HISTORY_PAGE_SIZE = 20;

export interface HistoryState {
  items: Job[];
  /** where the next page starts; null when there is none */
  cursor: string | null;
  hasMore: boolean;
}

export const EMPTY_HISTORY: HistoryState = { items: [], cursor: null, hasMore: false };

/** A first page replaces the list; a following page is appended (jobs already listed are not repeated). */
export function applyPage(state: HistoryState, page: JobsPage, mode: 'replace' | 'append'): HistoryState {
  const incoming = page.edges.map((e) => e.node);
  const base = mode === 'replace' ? [] : state.items;
  const seen = new Set(base.map((j) => j.id));
  const items = [...base];
  for (const job of incoming) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    items.push(job);
  }
  const lastCursor = page.pageInfo.endCursor ?? page.edges[page.edges.length - 1]?.cursor ?? null;
  return { items, cursor: page.pageInfo.hasNextPage ? lastCursor : null, hasMore: page.pageInfo.hasNextPage && lastCursor !== null };
}

/**
 * The first page again (after a job ended): its jobs replace theirs at the top; when more pages were loaded, the
 * jobs below stay, and so does the cursor after them (Load more goes on where it was).
 */
export function refreshFirstPage(state: HistoryState, page: JobsPage): HistoryState {
  const fresh = applyPage(EMPTY_HISTORY, page, 'replace');
  // only the first page was loaded, or there is nothing beyond it: the fresh page is the whole list
  if (state.items.length <= page.edges.length || !fresh.hasMore) return fresh;
  const ids = new Set(fresh.items.map((j) => j.id));
  return { items: [...fresh.items, ...state.items.filter((j) => !ids.has(j.id))], cursor: state.cursor, hasMore: state.hasMore };
}

/** Updates one listed job in place (e.g. with the final state a subscription reported); unknown ids go first. */
export function upsertJob(state: HistoryState, job: Job): HistoryState {
  const i = state.items.findIndex((j) => j.id === job.id);
  const slim: Job = { id: job.id, kind: job.kind, status: job.status, createdAt: job.createdAt, finishedAt: job.finishedAt ?? null, manifest: job.manifest ?? null, errorCode: job.errorCode ?? null };
  if (i < 0) return { ...state, items: [slim, ...state.items] };
  const items = state.items.slice();
  items[i] = { ...items[i]!, ...slim };
  return { ...state, items };
}

/** Like upsertJob, but only for a job already listed (a job shown from elsewhere is not added). */
export function updateListedJob(state: HistoryState, job: Job): HistoryState {
  return state.items.some((j) => j.id === job.id && (j.status !== job.status || j.finishedAt !== (job.finishedAt ?? null))) ? upsertJob(state, job) : state;
}
