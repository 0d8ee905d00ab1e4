/** The current job: status, progress, the x̂₀ preview, then stage-1 and refined images side by side. */
import { downloadName, formatDuration, kindLabel, pngDataUrl, progressPercent, progressText, queueText, shortId } from './format';
import type { ApiImage, Job, JobProgressInfo } from './types';

export interface CurrentState {
  job: Job;
  progress: JobProgressInfo | null;
  preview: ApiImage | null;
  /** the form left the seed empty: the manifest reports the one drawn */
  randomSeed?: boolean;
}

interface CurrentJobProps {
  current: CurrentState | null;
  live: 'subscription' | 'polling' | null;
}

function Meta({ job }: { job: Job }) {
  const m = job.manifest as Record<string, unknown> | null | undefined;
  const sampler = m?.sampler as Record<string, unknown> | undefined;
  const bits: string[] = [];
  if (m && typeof m.seed === 'number') bits.push(`seed ${m.seed}`);
  if (sampler && typeof sampler.kind === 'string') bits.push(`${String(sampler.kind).toUpperCase()} ${String(sampler.steps ?? '')} steps`);
  if (m && typeof m.durationMs === 'number') bits.push(formatDuration(m.durationMs));
  return bits.length ? <span className="job__meta">{bits.join(' · ')}</span> : null;
}

export function CurrentJob({ current, live }: CurrentJobProps) {
  if (!current) {
    return (
      <section className="panel results results--empty" aria-labelledby="results-title">
        <h2 id="results-title" className="panel__title">
          Result
        </h2>
        <div className="empty">
          <svg viewBox="0 0 48 48" aria-hidden="true" focusable="false">
            <rect x="6" y="6" width="15" height="15" rx="3" />
            <rect x="27" y="6" width="15" height="15" rx="3" />
            <rect x="6" y="27" width="15" height="15" rx="3" />
            <rect x="27" y="27" width="15" height="15" rx="3" />
          </svg>
          <p>Choose a job on the left and press Run. Images appear here, step by step.</p>
        </div>
      </section>
    );
  }
  const { job, progress, preview } = current;
  const active = job.status === 'QUEUED' || job.status === 'RUNNING';
  const images = job.images ?? [];
  const stage1 = job.stage1 ?? [];
  const steps = progress?.steps ?? 0;
  const step = progress?.step ?? 0;
  const cancelled = job.status === 'CANCELLED' || job.errorCode === 'CANCELLED';

  return (
    <section className="panel results" aria-labelledby="results-title" aria-busy={active}>
      <div className="job__head">
        <h2 id="results-title" className="panel__title">
          {kindLabel(job.kind)} <span className="job__id">#{shortId(job.id)}</span>
        </h2>
        <span className={`badge badge--${job.status.toLowerCase()}`} data-testid="job-status">
          {job.status}
        </span>
        <Meta job={job} />
      </div>

      {job.status === 'QUEUED' ? (
        <p className="job__queue">
          <span className="spinner" aria-hidden="true" /> Queued · {queueText(job.queuePosition)}
        </p>
      ) : null}

      {active || progress ? (
        <div className="progress-wrap">
          <div
            className={`progress${active ? '' : ' progress--done'}`}
            role="progressbar"
            aria-label="Progress"
            aria-valuemin={0}
            aria-valuemax={steps || 1}
            aria-valuenow={step}
            aria-valuetext={progress ? progressText(progress) : 'waiting'}
          >
            <div className="progress__bar" style={{ width: `${job.status === 'SUCCEEDED' ? 100 : progressPercent(progress)}%` }} />
          </div>
          <span className="progress__text">{progress ? progressText(progress) : active ? 'waiting for the first step…' : ''}</span>
          {live === 'polling' && active ? <span className="progress__live">(polling)</span> : null}
        </div>
      ) : null}

      {preview && (active || cancelled || job.status === 'FAILED') ? (
        <figure className="preview">
          <img src={pngDataUrl(preview)} alt={active ? 'Preview' : 'Last preview'} className="pixelated" width={preview.width} height={preview.height} />
          <figcaption>{active ? `x̂₀ predicted at step ${step}` : `last x̂₀ (step ${step})`}</figcaption>
        </figure>
      ) : null}

      {cancelled ? <p className="note">The job was cancelled.</p> : null}

      {images.length > 0 ? (
        <>
          <p className="legend" aria-hidden="true">
            {stage1.length > 0 ? (
              <>
                <span>Stage 1 (VAE)</span>
                <span>Refined (DDPM)</span>
              </>
            ) : (
              <span>Images</span>
            )}
          </p>
          <ol className="gallery" aria-label="Images">
            {images.map((img, i) => {
              const s1 = stage1[i];
              return (
                <li key={i} className="pair">
                  <div className={`pair__imgs${s1 ? '' : ' pair__imgs--one'}`}>
                    {s1 ? <img src={pngDataUrl(s1)} alt={`Stage-1 image ${i + 1}`} className="pixelated" width={s1.width} height={s1.height} /> : null}
                    <img src={pngDataUrl(img)} alt={`Refined image ${i + 1}`} className="pixelated" width={img.width} height={img.height} />
                  </div>
                  <a className="download" href={pngDataUrl(img)} download={downloadName(job.id, i + 1)}>
                    <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                      <path d="M12 4v11m0 0-4-4m4 4 4-4M5 20h14" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
                    </svg>
                    <span>
                      Download<span className="download__long"> image {i + 1}</span>
                    </span>
                  </a>
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
    </section>
  );
}
