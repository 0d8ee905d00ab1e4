/**
 * The `parameters` text each output PNG carries (a tEXt chunk, as A1111's "infotext"): one line of `key: value`
 * pairs, built from the job's manifest. It leaves out what differs between two runs of the same request (the job
 * id, the duration), so that equal requests still give identical PNG bytes.
 */
import type { JobManifest } from './jobs.js';

/** The PNG text keyword, as A1111 (and the tools reading its images) use it. */
export const PARAMETERS_KEYWORD = 'parameters';

export interface ImageSlot {
  /** 0-based position in the job's output */
  index: number;
  /** images in the output */
  of: number;
  /** `final`: the job's images; `stage 1`: the VAE's images the refiner started from */
  output: 'final' | 'stage 1';
}

/**
 * manifest entries that are not in the text: said elsewhere in it, different on every run, or about the job rather
 * than the image (its count, its first sample), so that an image made again alone carries the same text
 */
const SKIPPED = new Set(['kind', 'seed', 'sample', 'count', 'images', 'sampler', 'model', 'platformVersion', 'jobId', 'durationMs', 'sigmaModelRange', 'input']);
/** nested entries left out: the input images themselves (their sha256 stays) */
const NESTED_SKIPPED = new Set(['image']);

/** As A1111 quotes a value: as-is, unless it has a comma, a colon or a newline (then a JSON string). */
export function quoteValue(v: string): string {
  return /[,:\n]/.test(v) ? JSON.stringify(v) : v;
}

/** `latentTemperature` → `latent temperature`, `inputSha256` → `input sha256` */
function label(key: string): string {
  return key.replace(/([a-z])([A-Z0-9])/g, (_, a: string, b: string) => `${a} ${/[0-9]/.test(b) ? b : b.toLowerCase()}`).replace(/ sha 256$/, ' sha256');
}

/** [label, value] pairs of one manifest value; objects flatten with their key as prefix. */
function pairs(key: string, v: unknown): [string, string][] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'object' && !Array.isArray(v)) {
    return Object.entries(v as Record<string, unknown>).flatMap(([k, w]) => (NESTED_SKIPPED.has(k) ? [] : pairs(`${key} ${label(k)}`, w)));
  }
  return [[key, typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)]];
}

/**
 * `DiffuseVAE fmnist, kind: generate, output: final, seed: 42, sample: 3, sampler: DDIM, steps: 25, eta: 1, …,
 * refiner sha256: 649d…`: the model, the request's kind, the seed and sample of this image (with them, count 1 makes
 * it again alone; an interpolation's point instead: `point: 3 of 8`), the sampler's settings, the kind's own entries
 * (latent temperature, scale, σ, …), the platform version, and the sha256 of every model file.
 */
export function pngParameters(manifest: JobManifest, slot: ImageSlot): string {
  const model = (manifest['model'] ?? {}) as { name?: string; dataset?: string; formulation?: number; files?: Record<string, { sha256?: string }> };
  const sampler = (manifest['sampler'] ?? {}) as Record<string, unknown>;
  const first = typeof manifest['sample'] === 'number' ? manifest['sample'] : 0;
  const out: [string, string][] = [['kind', String(manifest['kind'])], ['output', slot.output], ...pairs('seed', manifest['seed'])];
  out.push(manifest['kind'] === 'interpolate' ? ['sample', String(first)] : ['sample', String(first + slot.index)]);
  if (manifest['kind'] === 'interpolate') out.push(['point', `${slot.index + 1} of ${slot.of}`]);
  const { kind, steps, eta, temperature, varianceType, timestepSpacing, clipSample, startTimestep, ...otherSampler } = sampler;
  const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
  out.push(...pairs('sampler', kind), ...pairs('steps', steps));
  if (kind === 'DDIM') out.push(...pairs('eta', eta));
  out.push(...pairs('temperature', temperature));
  if (kind === 'DDPM') out.push(...pairs('variance', lower(varianceType)));
  out.push(...pairs('spacing', lower(timestepSpacing)), ...pairs('clip sample', clipSample), ...pairs('formulation', model.formulation), ...pairs('start timestep', startTimestep));
  for (const [k, v] of Object.entries(otherSampler)) out.push(...pairs(`sampler ${label(k)}`, v));
  for (const [k, v] of Object.entries(manifest)) if (!SKIPPED.has(k)) out.push(...pairs(label(k), v));
  out.push(...pairs('platform', manifest['platformVersion']), ...pairs('dataset', model.dataset));
  for (const [role, f] of Object.entries(model.files ?? {})) out.push(...pairs(`${role} sha256`, f.sha256));
  return [`DiffuseVAE ${model.name ?? 'model'}`, ...out.map(([k, v]) => `${k}: ${quoteValue(v)}`)].join(', ');
}
