/** The playground page: API key, the job form, the current job, the history. State lives here; units are pure. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { cancelJob, fetchJob, fetchJobs, fetchModels, reproduceJob, submitJob, subscribeJobProgress, toApiError } from './api';
import { CurrentJob, type CurrentState } from './CurrentJob';
import { KEY_HELP } from './errors';
import { buildSubmission, fieldKey, initialForm, jobKindOf, takesImage, type FieldErrors, type FormState } from './form';
import { applyPage, EMPTY_HISTORY, HISTORY_PAGE_SIZE, refreshFirstPage, updateListedJob, upsertJob, type HistoryState } from './history';
import { HistoryPanel } from './HistoryPanel';
import { decodeImage, prepareImage, type SourceImage } from './image';
import { JobForm } from './JobForm';
import { applyProgressEvent, mergeJob, statusAnnouncement } from './jobState';
import { bareKey, storeKey } from './key';
import { pickInputSize, resizeNote } from './model';
import { isTerminal, type ApiError, type Job, type ModelInfo } from './types';

interface Follow {
  id: string;
  stop: () => void;
}

function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

function AlertBox({ error, onDismiss }: { error: ApiError | null; onDismiss: () => void }) {
  if (!error) return null;
  return (
    <div className="alert" role="alert">
      <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <path d="M12 8v5m0 3.5v.5M10.3 3.9 2.4 18a2 2 0 0 0 1.7 3h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0Z" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <div className="alert__body">
        <p className="alert__message">{error.message}</p>
        {error.code === 'UNAUTHENTICATED' ? (
          <p className="alert__help">
            To get a key: run <code>npm run keys -- create --name NAME</code> on the server, or open the link that <code>npm start</code> prints (it
            ends in <code>#key=…</code>), then paste the key into “API key” above.
          </p>
        ) : null}
        {error.retryAfterMs ? <p className="alert__help">Try again in {Math.ceil(error.retryAfterMs / 1000)} s.</p> : null}
        {error.code && error.code !== 'UNAUTHENTICATED' ? <p className="alert__code">{error.code}</p> : null}
      </div>
      <button type="button" className="alert__close" onClick={onDismiss} aria-label="Dismiss error">
        ×
      </button>
    </div>
  );
}

export function App({ initialKey }: { initialKey: string | null }) {
  // ---------------------------------------------------------------------------------------------------- API key
  const [keyInput, setKeyInput] = useState(initialKey ?? '');
  const [apiKey, setApiKey] = useState<string | null>(initialKey);
  useEffect(() => {
    const next = bareKey(keyInput);
    if (next === apiKey) return;
    const t = setTimeout(() => setApiKey(next), 400);
    return () => clearTimeout(t);
  }, [keyInput, apiKey]);
  useEffect(() => storeKey(safeStorage(), apiKey), [apiKey]);
  const keyRef = useRef(apiKey);
  keyRef.current = apiKey;

  // --------------------------------------------------------------------------------------------------- messages
  const [alert, setAlert] = useState<ApiError | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [announcement, setAnnouncement] = useState('');

  // ------------------------------------------------------------------------------------------------------ model
  const [model, setModel] = useState<ModelInfo | null>(null);
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [modelLoading, setModelLoading] = useState(false);
  const [form, setForm] = useState<FormState | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    setModelLoading(true);
    fetchModels(apiKey, ac.signal)
      .then(({ models }) => {
        const first = models.find((m) => m.default) ?? models[0];
        if (!first) throw new Error('The gateway serves no model.');
        setModels(models);
        // the set chosen before (another key, the same gateway) while it is served; else the default
        setModel((current) => models.find((m) => m.name === current?.name) ?? first);
        setForm((f) => f ?? initialForm(first));
        setAlert((a) => (a?.code === 'UNAUTHENTICATED' || a?.code === 'NETWORK_ERROR' ? null : a));
      })
      .catch((err: unknown) => {
        if (ac.signal.aborted) return;
        setAlert(toApiError(err));
      })
      .finally(() => {
        if (!ac.signal.aborted) setModelLoading(false);
      });
    return () => ac.abort();
  }, [apiKey]);

  // ------------------------------------------------------------------------------------------------------ image
  const [source, setSource] = useState<SourceImage | null>(null);
  const [imageError, setImageError] = useState<string | undefined>();
  const target = model && form ? pickInputSize(model, jobKindOf(form.kind), form.scale) : null;
  const prepared = useMemo(() => {
    if (!source || !target || !model) return null;
    try {
      return prepareImage(source, target.width, target.height, model.channels);
    } catch {
      return null;
    }
  }, [source, target?.width, target?.height, model?.channels]); // target by value: a new object each render
  const note = source && target && form ? resizeNote(source, target, jobKindOf(form.kind), form.scale) : null;
  const onImageFile = useCallback(async (file: File) => {
    setImageError(undefined);
    try {
      const img = await decodeImage(file);
      setSource((old) => {
        old?.bitmap.close();
        return img;
      });
      setFieldErrors((errors) => {
        const rest = { ...errors };
        delete rest['input.image'];
        return rest;
      });
    } catch (err) {
      setImageError(err instanceof Error ? err.message : String(err));
    }
  }, []);

  // ---------------------------------------------------------------------------------------------------- history
  const [history, setHistory] = useState<HistoryState>(EMPTY_HISTORY);
  const [historyLoading, setHistoryLoading] = useState(false);
  const [historyError, setHistoryError] = useState<ApiError | null>(null);
  const historyRef = useRef(history);
  historyRef.current = history;
  const loadHistory = useCallback(async (mode: 'replace' | 'append' | 'refresh') => {
    const key = keyRef.current;
    setHistoryLoading(true);
    try {
      const page = await fetchJobs(key, HISTORY_PAGE_SIZE, mode === 'append' ? historyRef.current.cursor : null);
      if (keyRef.current !== key) return;
      setHistory((h) => (mode === 'refresh' ? refreshFirstPage(h, page) : applyPage(h, page, mode)));
      setHistoryError(null);
    } catch (err) {
      if (keyRef.current !== key) return;
      setHistoryError(toApiError(err));
    } finally {
      setHistoryLoading(false);
    }
  }, []);
  useEffect(() => {
    setHistory(EMPTY_HISTORY);
    if (apiKey) void loadHistory('replace');
  }, [apiKey, loadHistory]);

  // -------------------------------------------------------------------------------------------- the current job
  const [current, setCurrent] = useState<CurrentState | null>(null);
  const [live, setLive] = useState<'subscription' | 'polling' | null>(null);
  const followRef = useRef<Follow | null>(null);
  const resultsRef = useRef<HTMLDivElement>(null);

  const stopFollowing = useCallback(() => {
    followRef.current?.stop();
    followRef.current = null;
    setLive(null);
  }, []);
  useEffect(() => stopFollowing, [stopFollowing]);

  /** The job ended: fetch it whole (images, stage 1), show a failure, refresh the history. */
  const finish = useCallback(
    async (id: string, token: Follow) => {
      try {
        const job = await fetchJob(keyRef.current, id);
        if (followRef.current !== token) return;
        if (job) {
          setCurrent((c) => mergeJob(c, job));
          setHistory((h) => upsertJob(h, job));
          if (job.status === 'FAILED' && job.errorCode !== 'CANCELLED') setAlert({ message: job.error ?? 'The job failed.', code: job.errorCode ?? 'FAILED' });
        }
      } catch (err) {
        if (followRef.current === token) setAlert(toApiError(err));
      } finally {
        if (followRef.current === token) {
          followRef.current = null;
          setLive(null);
        }
        void loadHistory('refresh');
      }
    },
    [loadHistory],
  );

  const follow = useCallback(
    (job: Job) => {
      stopFollowing();
      setCurrent({ job, progress: job.progress ?? null, preview: job.preview ?? null });
      if (isTerminal(job.status)) return;
      const key = keyRef.current;
      let stopped = false;
      let unsubscribe: (() => void) | null = null;
      let pollTimer: ReturnType<typeof setTimeout> | undefined;
      const token: Follow = {
        id: job.id,
        stop: () => {
          stopped = true;
          unsubscribe?.();
          clearTimeout(pollTimer);
        },
      };
      followRef.current = token;

      // without a live connection: job(id) once a second
      const poll = async () => {
        if (stopped) return;
        try {
          const j = await fetchJob(key, job.id);
          if (stopped) return;
          if (!j) {
            setAlert({ message: 'The job is gone (unknown or forgotten).', code: 'NOT_FOUND' });
            stopFollowing();
            return;
          }
          setCurrent((c) => mergeJob(c, j));
          if (isTerminal(j.status)) {
            void finish(job.id, token);
            return;
          }
        } catch (err) {
          if (stopped) return;
          const e = toApiError(err);
          if (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN') {
            setAlert(e);
            stopFollowing();
            return;
          }
        }
        pollTimer = setTimeout(poll, 1000);
      };

      setLive('subscription');
      unsubscribe = subscribeJobProgress(key, job.id, {
        next: (ev) => {
          if (!stopped) setCurrent((c) => applyProgressEvent(c, ev));
        },
        error: (err) => {
          if (stopped) return;
          if (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN') {
            setAlert(err);
            stopFollowing();
            return;
          }
          setLive('polling');
          void poll();
        },
        complete: () => {
          if (!stopped) void finish(job.id, token);
        },
      });
    },
    [finish, stopFollowing],
  );

  // announce status changes (and show them in History)
  const lastStatus = useRef<string | null>(null);
  useEffect(() => {
    if (!current) return;
    setHistory((h) => updateListedJob(h, current.job));
    const sig = `${current.job.id}:${current.job.status}:${current.job.images?.length ?? 0}`;
    if (sig === lastStatus.current) return;
    lastStatus.current = sig;
    setAnnouncement(statusAnnouncement(current.job));
  }, [current]);

  const scrollToResults = (always: boolean) => {
    if (always || window.matchMedia('(max-width: 899px)').matches) resultsRef.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  };

  // -------------------------------------------------------------------------------------------------- actions
  const [submitting, setSubmitting] = useState(false);

  const onSubmit = async () => {
    if (!model || !form) return;
    setAlert(null);
    const sub = buildSubmission(form, model, { image: takesImage(form.kind) ? prepared?.base64 ?? null : null });
    if (!sub.ok) {
      setFieldErrors(sub.errors);
      const n = Object.keys(sub.errors).length;
      setAlert({ message: `Check the form: ${Object.values(sub.errors)[0]}${n > 1 ? ` (and ${n - 1} more)` : ''}.`, code: 'BAD_USER_INPUT' });
      return;
    }
    setFieldErrors({});
    setSubmitting(true);
    try {
      const job = await submitJob(apiKey, sub.kind, sub.input);
      setHistory((h) => upsertJob(h, job));
      follow(job);
      scrollToResults(false);
    } catch (err) {
      const e = toApiError(err);
      const field = fieldKey(e.field);
      if (e.code === 'BAD_USER_INPUT' && field) setFieldErrors({ [field]: e.message });
      setAlert(e);
    } finally {
      setSubmitting(false);
    }
  };

  const onCancel = async () => {
    if (!current) return;
    try {
      const job = await cancelJob(apiKey, current.job.id);
      setCurrent((c) => mergeJob(c, job));
    } catch (err) {
      setAlert(toApiError(err));
    }
  };

  const onShow = async (id: string) => {
    setAlert(null);
    try {
      const job = await fetchJob(apiKey, id);
      if (!job) {
        setAlert({ message: 'That job is gone (unknown or forgotten by the store).', code: 'NOT_FOUND' });
        return;
      }
      follow(job);
      scrollToResults(true);
    } catch (err) {
      setAlert(toApiError(err));
    }
  };

  const onReproduce = async (manifest: unknown) => {
    setAlert(null);
    try {
      const job = await reproduceJob(apiKey, manifest);
      setHistory((h) => upsertJob(h, job));
      follow(job);
      scrollToResults(true);
    } catch (err) {
      setAlert(toApiError(err));
    }
  };

  const active = current ? current.job.status === 'QUEUED' || current.job.status === 'RUNNING' : false;
  const alertBox = <AlertBox error={alert} onDismiss={() => setAlert(null)} />;

  // ------------------------------------------------------------------------------------------------------ page
  return (
    <div className="app">
      <header className="top">
        <div className="brand">
          <svg viewBox="0 0 32 32" aria-hidden="true" focusable="false" className="brand__logo">
            <rect x="2" y="2" width="28" height="28" rx="7" />
            <path d="M9 22c3-9 5-12 7-12s4 3 7 12" fill="none" strokeWidth="2.4" strokeLinecap="round" />
          </svg>
          <div>
            <h1>DiffuseVAE playground</h1>
            <p className="brand__sub">
              {model ? (
                <>
                  Model <strong>{model.name}</strong> · {model.dataset} · {model.resolution}×{model.resolution}
                  {model.channels === 1 ? ' grayscale' : ''} · z ∈ ℝ<sup>{model.latentDim}</sup>
                </>
              ) : modelLoading ? (
                'Connecting…'
              ) : (
                'VAE + DDPM refiner'
              )}
            </p>
          </div>
        </div>
        <div className="keybox">
          <label htmlFor="api-key">API key</label>
          <div className="keybox__row">
            <input
              id="api-key"
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="dvae_…"
              value={keyInput}
              onChange={(e) => setKeyInput(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') setApiKey(bareKey(keyInput));
              }}
              onBlur={() => setApiKey(bareKey(keyInput))}
              aria-describedby="api-key-hint"
            />
            {keyInput ? (
              <button type="button" className="btn btn--ghost btn--small" onClick={() => { setKeyInput(''); setApiKey(null); }}>
                Forget
              </button>
            ) : null}
          </div>
          <span id="api-key-hint" className="field__hint">
            {apiKey ? 'Kept in this browser only.' : KEY_HELP}
          </span>
        </div>
        <nav className="toplinks" aria-label="Links">
          <a href="/graphql">GraphQL explorer</a>
        </nav>
      </header>

      <div className="sr-only" role="status" aria-live="polite">
        {announcement}
      </div>

      <main className="layout">
        <div className="col-form">
          {model && form ? (
            <JobForm
              model={model}
              models={models}
              onModel={(next) => {
                setModel(next);
                setForm({ ...initialForm(next), kind: form.kind });
                setFieldErrors({});
              }}
              form={form}
              onChange={(f) => {
                setForm(f);
                if (Object.keys(fieldErrors).length) setFieldErrors({});
              }}
              errors={{ ...fieldErrors, ...(imageError ? { 'input.image': imageError } : {}) }}
              image={{ source, prepared, note, target }}
              onImageFile={(f) => void onImageFile(f)}
              onImageClear={() => {
                source?.bitmap.close();
                setSource(null);
              }}
              onSubmit={() => void onSubmit()}
              onCancel={() => void onCancel()}
              onReset={() => {
                setForm({ ...initialForm(model), kind: form.kind });
                setFieldErrors({});
              }}
              busy={submitting}
              canCancel={active}
              alert={alertBox}
            />
          ) : (
            <section className="panel" aria-labelledby="form-title">
              <h2 id="form-title" className="panel__title">
                New job
              </h2>
              {modelLoading ? <p className="muted">Loading the model…</p> : !apiKey ? <p className="muted">Paste an API key above to start.</p> : null}
              {alertBox}
            </section>
          )}
        </div>
        <div className="col-results" ref={resultsRef}>
          <CurrentJob current={current} live={live} />
        </div>
        <div className="col-history">
          <HistoryPanel
            history={history}
            loading={historyLoading}
            error={historyError}
            currentId={current?.job.id ?? null}
            onShow={(id) => void onShow(id)}
            onReproduce={(m) => void onReproduce(m)}
            onLoadMore={() => void loadHistory('append')}
            onRefresh={() => void loadHistory('replace')}
          />
        </div>
      </main>
      <footer className="foot">
        DiffuseVAE serving platform · every image is reproducible from its manifest
      </footer>
    </div>
  );
}
