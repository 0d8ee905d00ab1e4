/** The jobs of this key, newest first, from the API (so it survives a reload). */
import { elapsedMs, formatDuration, formatTime, kindLabel, shortId } from './format';
import type { HistoryState } from './history';
import type { ApiError } from './types';

interface HistoryPanelProps {
  history: HistoryState;
  loading: boolean;
  error: ApiError | null;
  currentId: string | null;
  onShow: (id: string) => void;
  onReproduce: (manifest: unknown) => void;
  onLoadMore: () => void;
  onRefresh: () => void;
}

export function HistoryPanel({ history, loading, error, currentId, onShow, onReproduce, onLoadMore, onRefresh }: HistoryPanelProps) {
  return (
    <section className="panel history" aria-labelledby="history-title">
      <div className="history__head">
        <h2 id="history-title" className="panel__title">
          History
        </h2>
        <button type="button" className="btn btn--ghost btn--small" onClick={onRefresh} disabled={loading}>
          Refresh
        </button>
      </div>
      {error ? <p className="note note--error">Cannot load the history: {error.message}</p> : null}
      {history.items.length === 0 && !loading && !error ? <p className="muted">No jobs yet.</p> : null}
      <ul className="history__list" role="list" aria-label="History">
        {history.items.map((job) => {
          const duration = formatDuration(elapsedMs(job.createdAt, job.finishedAt));
          const m = job.manifest as Record<string, unknown> | null | undefined;
          return (
            <li key={job.id} className={`hist${job.id === currentId ? ' hist--current' : ''}`}>
              <div className="hist__row">
                <span className="hist__kind">{kindLabel(job.kind)}</span>
                <span className={`badge badge--${job.status.toLowerCase()}`}>{job.status}</span>
                {job.errorCode && job.status !== 'SUCCEEDED' && job.errorCode !== job.status ? <span className="hist__code">{job.errorCode}</span> : null}
              </div>
              <div className="hist__row hist__meta">
                <time dateTime={job.createdAt}>{formatTime(job.createdAt)}</time>
                {duration ? <span>{duration}</span> : null}
                {m && typeof m.count === 'number' ? <span>{m.count} img</span> : null}
                {m && typeof m.seed === 'number' ? <span>seed {m.seed}</span> : null}
                <span className="hist__id">#{shortId(job.id)}</span>
              </div>
              {job.manifest ? (
                <details className="hist__manifest">
                  <summary>Manifest</summary>
                  <pre>{JSON.stringify(job.manifest, null, 2)}</pre>
                </details>
              ) : null}
              <div className="hist__actions">
                <button type="button" className="btn btn--small" onClick={() => onShow(job.id)}>
                  Show
                </button>
                {job.status === 'SUCCEEDED' && job.manifest ? (
                  <button type="button" className="btn btn--small" onClick={() => onReproduce(job.manifest)}>
                    Reproduce
                  </button>
                ) : null}
              </div>
            </li>
          );
        })}
      </ul>
      {history.hasMore ? (
        <button type="button" className="btn btn--wide" onClick={onLoadMore} disabled={loading}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : loading ? (
        <p className="muted" aria-live="polite">
          Loading…
        </p>
      ) : null}
    </section>
  );
}
