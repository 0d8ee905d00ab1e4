/** Formatting for the page: ETA, progress text, times, labels, download names. Pure (no DOM, no React). */
import type { ApiImage, JobKind, JobProgressInfo } from './types';

/** 3400 → "4 s", 65000 → "1 min 5 s", null → "…" (the pace is not known yet). */
export function formatEta(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '…';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m < 60) return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** "step 12 / 50 · ETA 3 s" */
export function progressText(p: Pick<JobProgressInfo, 'step' | 'steps' | 'etaMs'>): string {
  return `step ${p.step} / ${p.steps} · ETA ${formatEta(p.etaMs)}`;
}

/** 0..100, for the bar's width. */
export function progressPercent(p: Pick<JobProgressInfo, 'step' | 'steps'> | null | undefined): number {
  if (!p || p.steps <= 0) return 0;
  return Math.max(0, Math.min(100, (100 * p.step) / p.steps));
}

/** 1234 → "1.2 s", 65000 → "1 min 5 s" */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatEta(ms);
}

/** An ISO time for the history list: "14:03:12" today, else "3 Dec 14:03". */
export function formatTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  if (sameDay) return hms;
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getDate()} ${months[d.getMonth()]} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Milliseconds between two ISO times, or null. */
export function elapsedMs(fromIso: string | null | undefined, toIso: string | null | undefined): number | null {
  if (!fromIso || !toIso) return null;
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return Number.isFinite(ms) ? ms : null;
}

const KIND_LABELS: Record<JobKind, string> = {
  GENERATE: 'Generate',
  RECONSTRUCT: 'Reconstruct',
  SUPER_RESOLVE: 'Super-resolution',
  DENOISE: 'Denoise',
  INTERPOLATE: 'Interpolate',
};

export function kindLabel(kind: JobKind | string): string {
  return KIND_LABELS[kind as JobKind] ?? kind;
}

/** QUEUED: "2 jobs ahead", "1 job ahead", "next to run" */
export function queueText(position: number | null | undefined): string {
  if (position == null) return 'waiting for a runner';
  if (position <= 0) return 'next to run';
  return `${position} job${position === 1 ? '' : 's'} ahead`;
}

/** The API's base64 PNG as an <img> src, bytes unchanged. */
export function pngDataUrl(image: Pick<ApiImage, 'png'>): string {
  return image.png.startsWith('data:') ? image.png : `data:image/png;base64,${image.png}`;
}

/** diffusevae-1a2b3c4d-1.png (i is 1-based, as on the page) */
export function downloadName(jobId: string, i: number, prefix = ''): string {
  const id8 = jobId.replace(/-/g, '').slice(0, 8);
  return `diffusevae-${id8}-${prefix}${i}.png`;
}

/** "174b161f" */
export function shortId(jobId: string): string {
  return jobId.replace(/-/g, '').slice(0, 8);
}
