/**
 * The form's state and the mutation variables built from it. Pure (no DOM, no React): numbers are kept as the
 * strings the inputs hold, so that an empty field means "omit" (seed: random; eta, σ: the API's default).
 * Field errors are keyed like the API's BAD_USER_INPUT extensions.field ("input.sampler.steps"), so the page
 * marks the same input whichever side refused it.
 */
import { maxSteps } from './model';
import type { InferenceScheduleKind, JobKind, ModelInfo, SamplerKind, TimestepSpacing, VarianceType } from './types';

export type FormKind = 'generate' | 'reconstruct' | 'superResolve' | 'denoise' | 'interpolate';

export const FORM_KINDS: { kind: FormKind; label: string; jobKind: JobKind; description: string }[] = [
  { kind: 'generate', label: 'Generate', jobKind: 'GENERATE', description: 'Sample new images: z → VAE decoder → DDPM refiner.' },
  { kind: 'reconstruct', label: 'Reconstruct', jobKind: 'RECONSTRUCT', description: 'Encode an image, decode it, and refine the result.' },
  { kind: 'denoise', label: 'Denoise', jobKind: 'DENOISE', description: 'Run the refiner from the timestep that matches the noise.' },
  { kind: 'superResolve', label: 'Super-resolution', jobKind: 'SUPER_RESOLVE', description: 'Upscale a small image ×2 or ×4 with the refiner.' },
  { kind: 'interpolate', label: 'Interpolate', jobKind: 'INTERPOLATE', description: 'Walk the latent space between two seeds.' },
];

export const jobKindOf = (kind: FormKind): JobKind => FORM_KINDS.find((k) => k.kind === kind)!.jobKind;
export const takesImage = (kind: FormKind): boolean => kind === 'reconstruct' || kind === 'superResolve' || kind === 'denoise';

export interface SamplerForm {
  kind: SamplerKind;
  steps: string;
  eta: string;
  temperature: string;
  timestepSpacing: TimestepSpacing;
  varianceType: VarianceType;
  clipSample: boolean;
  /** '' the training schedule (what the API walks when inferenceSchedule is left out); else a schedule given by σ */
  schedule: '' | Exclude<InferenceScheduleKind, 'LINEAR'>;
}

/** The schedules the page offers a set: the training one, and those given by σ with their default ends (LINEAR needs β's the page does not ask for). */
export function scheduleChoices(m: ModelInfo): SamplerForm['schedule'][] {
  return ['', ...m.inferenceSchedules.filter((k): k is Exclude<InferenceScheduleKind, 'LINEAR'> => k !== 'LINEAR')];
}

export interface FormState {
  kind: FormKind;
  count: string;
  seed: string;
  latentTemperature: string;
  refine: boolean;
  useMean: boolean;
  scale: number;
  throughVae: boolean;
  sigma: string;
  fromSeed: string;
  toSeed: string;
  points: string;
  sampler: SamplerForm;
}

const str = (n: number | null | undefined): string => (n == null ? '' : String(n));

/** The form as the model's defaults have it. */
export function initialForm(m: ModelInfo): FormState {
  const d = m.defaults;
  return {
    kind: 'generate',
    count: str(d.count),
    seed: '',
    latentTemperature: str(d.latentTemperature),
    refine: true,
    useMean: false,
    scale: d.scale,
    throughVae: false,
    sigma: '',
    fromSeed: '',
    toSeed: '',
    points: str(d.points),
    sampler: {
      kind: d.sampler.kind,
      steps: str(d.sampler.steps),
      eta: str(d.sampler.eta),
      temperature: str(d.sampler.temperature),
      timestepSpacing: d.sampler.timestepSpacing,
      varianceType: d.sampler.varianceType,
      clipSample: d.sampler.clipSample,
      schedule: '',
    },
  };
}

export type FieldErrors = Record<string, string>;

export type Submission =
  | { ok: true; kind: FormKind; input: Record<string, unknown> }
  | { ok: false; errors: FieldErrors };

export interface SubmitContext {
  /** base64 PNG (no data: prefix) at the size the job takes; required by reconstruct / superResolve / denoise */
  image?: string | null;
  /** a random seed for an empty interpolation endpoint: 0..max */
  randomSeed?: (max: number) => number;
}

function parseInt(value: string, field: string, min: number, max: number, errors: FieldErrors, label: string): number | undefined {
  const v = value.trim();
  if (!/^-?\d+$/.test(v)) {
    errors[field] = v === '' ? `${label} is required` : `${label} must be a whole number`;
    return undefined;
  }
  const n = Number(v);
  if (n < min || n > max) {
    errors[field] = `${label} must be between ${min} and ${max}`;
    return undefined;
  }
  return n;
}

function parseFloatIn(value: string, field: string, min: number, max: number, minOpen: boolean, errors: FieldErrors, label: string): number | undefined {
  const v = value.trim();
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) {
    errors[field] = v === '' ? `${label} is required` : `${label} must be a number`;
    return undefined;
  }
  if ((minOpen ? n <= min : n < min) || n > max) {
    errors[field] = `${label} must be in ${minOpen ? '(' : '['}${min}, ${max}]`;
    return undefined;
  }
  return n;
}

/**
 * The sampler part of the input: eta only for DDIM, varianceType only for DDPM (the API refuses the other), an
 * inference schedule only where the set takes it and the job starts from pure noise (not denoise).
 */
export function buildSampler(s: SamplerForm, m: ModelInfo, errors: FieldErrors, kind: FormKind = 'generate'): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: s.kind };
  const steps = parseInt(s.steps, 'input.sampler.steps', 1, maxSteps(m), errors, 'Steps');
  if (steps !== undefined) out.steps = steps;
  if (s.kind === 'DDIM' && s.eta.trim() !== '') {
    const eta = parseFloatIn(s.eta, 'input.sampler.eta', 0, 1, false, errors, 'Eta');
    if (eta !== undefined) out.eta = eta;
  }
  const temperature = parseFloatIn(s.temperature, 'input.sampler.temperature', 0, 2, true, errors, 'Temperature');
  if (temperature !== undefined) out.temperature = temperature;
  out.timestepSpacing = s.timestepSpacing;
  if (s.kind === 'DDPM') out.varianceType = s.varianceType;
  out.clipSample = s.clipSample;
  if (s.schedule !== '' && kind !== 'denoise' && scheduleChoices(m).includes(s.schedule)) out.inferenceSchedule = { kind: s.schedule };
  return out;
}

/** The mutation's input (with wait: false) from the form, or the fields that are wrong. */
export function buildSubmission(f: FormState, m: ModelInfo, ctx: SubmitContext = {}): Submission {
  const errors: FieldErrors = {};
  const L = m.limits;
  // the model set the form was built for (its limits and defaults): the job runs there
  const input: Record<string, unknown> = { model: m.name, wait: false };
  const sampler = buildSampler(f.sampler, m, errors, f.kind);
  const steps = typeof sampler.steps === 'number' ? sampler.steps : undefined;

  if (f.seed.trim() !== '') {
    const seed = parseInt(f.seed, 'input.seed', 0, L.maxSeed, errors, 'Seed');
    if (seed !== undefined) input.seed = seed;
  }

  let images: number | undefined;
  if (f.kind === 'interpolate') {
    const points = parseInt(f.points, 'input.points', 2, L.maxPoints, errors, 'Points');
    if (points !== undefined) input.points = points;
    images = points;
    const rnd = ctx.randomSeed ?? ((max: number) => Math.floor(Math.random() * (max + 1)));
    const endpoint = (value: string, field: string, label: string) => {
      if (value.trim() === '') return { seed: rnd(L.maxSeed) };
      const seed = parseInt(value, field, 0, L.maxSeed, errors, label);
      return seed === undefined ? undefined : { seed };
    };
    const from = endpoint(f.fromSeed, 'input.from.seed', 'From seed');
    const to = endpoint(f.toSeed, 'input.to.seed', 'To seed');
    if (from) input.from = from;
    if (to) input.to = to;
  } else {
    const count = parseInt(f.count, 'input.count', 1, L.maxCount, errors, 'Count');
    if (count !== undefined) input.count = count;
    images = count;
  }

  if (f.kind === 'generate' || f.kind === 'interpolate') {
    const lt = parseFloatIn(f.latentTemperature, 'input.latentTemperature', 0, 2, true, errors, 'Latent temperature');
    if (lt !== undefined) input.latentTemperature = lt;
  }
  if (f.kind === 'generate') input.refine = f.refine;

  if (takesImage(f.kind)) {
    if (!ctx.image) errors['input.image'] = 'Choose an image first';
    else input.image = ctx.image;
  }
  if (f.kind === 'reconstruct') input.useMean = f.useMean;
  if (f.kind === 'superResolve') {
    if (!m.scales.includes(f.scale)) errors['input.scale'] = `Scale must be one of ${m.scales.map((s) => `×${s}`).join(', ')}`;
    input.scale = f.scale;
    input.throughVae = f.throughVae;
  }
  if (f.kind === 'denoise' && f.sigma.trim() !== '') {
    const sigma = parseFloatIn(f.sigma, 'input.sigma', 0, 1, false, errors, 'Noise σ');
    if (sigma !== undefined) input.sigma = sigma;
  }

  const refines = !(f.kind === 'generate' && !f.refine);
  if (refines && steps !== undefined && images !== undefined && images * steps > L.maxImageSteps && !errors['input.sampler.steps']) {
    errors['input.sampler.steps'] = `${images} images × ${steps} steps is over the limit of ${L.maxImageSteps} image-steps per request`;
  }
  input.sampler = sampler;

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, kind: f.kind, input };
}

/** An API field ("input.from.seed", "input.sampler.steps") → the form's key for it (they are the same today). */
export function fieldKey(apiField: string | undefined): string | undefined {
  if (!apiField) return undefined;
  return apiField.startsWith('input.') ? apiField : `input.${apiField}`;
}
