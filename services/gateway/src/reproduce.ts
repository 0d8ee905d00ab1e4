/**
 * reproduce(manifest, image): a finished job's manifest back into the request that made it, checked by the same
 * validation as any request (a bad entry is BAD_USER_INPUT naming `manifest.<entry>`). It runs on the model set the
 * manifest names, which must be served here with the same files (the same sha256 for every one): another set would
 * make other images under the same seed.
 */
import { PlatformError } from '@diffusevae/contracts';
import type { JobKind } from './jobs.js';
import type { ModelSets, ServedSet } from './model-sets.js';
import * as v from './validate.js';

const KINDS: readonly JobKind[] = ['generate', 'superResolve', 'denoise', 'reconstruct', 'interpolate'];

const bad = (field: string, message: string) => PlatformError.badInput(field, message);
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Validation names `input.…`; here the same entries come from the manifest. */
function asManifestError(e: unknown): never {
  if (e instanceof PlatformError && e.field?.startsWith('input')) {
    const field = e.field.replace(/^input/, 'manifest');
    throw new PlatformError(e.code, e.message.replace(/^input/, 'manifest'), field);
  }
  throw e;
}

/**
 * The served set the manifest's model entry names (a manifest without a name: the default set), with the same
 * sha256 for every file.
 */
function setOf(m: Record<string, unknown>, sets: ModelSets): ServedSet {
  const entry = m['model'];
  const files = isObject(entry) && isObject(entry['files']) ? (entry['files'] as Record<string, { sha256?: unknown }>) : undefined;
  if (!files) throw bad('manifest.model', `must be the model entry of a job's manifest (name and files with their sha256), got ${JSON.stringify(entry ?? null).slice(0, 80)}`);
  const name = (entry as Record<string, unknown>)['name'];
  if (name !== undefined && typeof name !== 'string') throw bad('manifest.model.name', `must be the name of a model set, got ${JSON.stringify(name).slice(0, 80)}`);
  const set = sets.get(name);
  if (!set) throw bad('manifest.model', `the job was made by model set ${JSON.stringify(name)}, which this gateway does not serve (served: ${sets.names.join(', ')}): its images cannot be made again here`);
  const served = set.model.identity;
  const differing = Object.entries(served.files).filter(([role, f]) => files[role]?.sha256 !== f.sha256).map(([role]) => role);
  if (differing.length) {
    throw bad('manifest.model', `the job was made by model ${name ?? '?'} whose ${differing.join(', ')} differ from the set ${served.name} served here: its images cannot be made again here`);
  }
  return set;
}

/**
 * The request that makes the manifest's job again (image: only its image `image`, alone: count 1 from its sample),
 * and the set it runs on. `wait` is the caller's, not the manifest's.
 */
export function reproduceRequest(
  manifest: unknown,
  image: number | null | undefined,
  wait: boolean | null | undefined,
  sets: ModelSets,
): { set: ServedSet; request: v.JobRequest } {
  const set = checkedSet(manifest, sets);
  return { set, request: requestOf(manifest as Record<string, unknown>, image, wait, set) };
}

function checkedSet(manifest: unknown, sets: ModelSets): ServedSet {
  if (!isObject(manifest)) throw bad('manifest', `must be a job's manifest (the JSON object of job { manifest } of a SUCCEEDED job), got ${JSON.stringify(manifest ?? null).slice(0, 80)}`);
  const m = manifest;
  const kind = m['kind'] as JobKind;
  if (!KINDS.includes(kind)) throw bad('manifest.kind', `must be one of ${KINDS.join(', ')}, got ${JSON.stringify(m['kind'] ?? null)}`);
  if (typeof m['seed'] !== 'number') throw bad('manifest.seed', `must be the job's seed (an integer), got ${JSON.stringify(m['seed'] ?? null)}`);
  return setOf(m, sets);
}

function requestOf(m: Record<string, unknown>, image: number | null | undefined, wait: boolean | null | undefined, set: ServedSet): v.JobRequest {
  const kind = m['kind'] as JobKind;
  const model = set.model;

  let count = m['count'] as number;
  let sample = (m['sample'] as number | undefined) ?? v.DEFAULTS.sample;
  if (image != null) {
    if (kind === 'interpolate') throw bad('image', 'an interpolation is made again whole (its points are one path): leave image out');
    if (!Number.isInteger(image) || image < 0 || image >= count) throw bad('image', `must be an image of that job, 0..${count - 1}, got ${image}`);
    sample += image;
    count = 1;
  }
  let sampler: v.SamplerInput | undefined;
  try {
    sampler = v.samplerFromJson('input.sampler', m['sampler']);
  } catch (e) {
    asManifestError(e);
  }
  const common = { count, seed: m['seed'] as number, sample, sampler, wait: wait ?? true };
  const noSeed = () => {
    throw bad('manifest.seed', 'is missing');
  };
  const input = () => {
    if (typeof m['input'] !== 'string') throw bad('manifest.input', `must be the input image the manifest carries (base64 PNG), got ${JSON.stringify(m['input'] ?? null).slice(0, 40)}`);
    return m['input'];
  };
  const endpoint = (field: 'from' | 'to' | 'at'): v.EndpointInput => {
    const e = m[field];
    if (!isObject(e)) throw bad(`manifest.${field}`, 'must be an end of the path ({ seed } or { image, inputSha256 })');
    return typeof e['seed'] === 'number' ? { seed: e['seed'] } : { image: e['image'] as string };
  };
  try {
    switch (kind) {
      case 'generate':
        return v.validateGenerate({ ...common, latentTemperature: m['latentTemperature'] as number, refine: m['refine'] as boolean }, model.limits, noSeed);
      case 'superResolve':
        return v.validateSuperResolve({ ...common, image: input(), scale: m['scale'] as number, throughVae: m['throughVae'] as boolean }, model.limits, noSeed);
      case 'denoise':
        // an estimated σ is estimated again (the same input gives the same estimate)
        return v.validateDenoise({ ...common, image: input(), ...(m['sigmaEstimated'] === false ? { sigma: m['sigma'] as number } : {}) }, model.limits, noSeed);
      case 'reconstruct':
        return v.validateReconstruct({ ...common, image: input(), useMean: m['useMean'] as boolean }, model.limits, noSeed);
      case 'interpolate':
        return v.validateInterpolate(
          {
            ...common,
            points: m['points'] as number,
            from: endpoint('from'),
            to: endpoint('to'),
            latentTemperature: m['latentTemperature'] as number,
            // a manifest from before DDPM-latent interpolation has no space: the VAE latent
            ...(m['space'] === 'ddpm-latent' ? { space: 'ddpm-latent' as const, at: endpoint('at') } : {}),
          },
          model.limits,
          noSeed,
        );
    }
  } catch (e) {
    asManifestError(e);
  }
}
