import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SET_NAME } from '@diffusevae/contracts';

/** The four networks of a DiffuseVAE model set. */
export type ModelRole = 'encoder' | 'decoder' | 'refiner' | 'classifier';
export const MODEL_ROLES: readonly ModelRole[] = ['encoder', 'decoder', 'refiner', 'classifier'];

export interface ModelFile {
  path: string;
  sha256: string;
  inputs: string[];
  outputs: string[];
  bytes: number;
}

/**
 * discrete: the refiner takes the integer training timestep t (input `t`); continuous: the noise level √ᾱ (input
 * `noise_level`, float), so that any inference schedule works (WaveGrad; DiffuseVAE's continuous-noise refiners).
 */
export type NoiseConditioning = 'discrete' | 'continuous';
export const NOISE_CONDITIONINGS: readonly NoiseConditioning[] = ['discrete', 'continuous'];

/** The set's conditioning (absent in manifests written before continuous refiners: discrete). */
export function noiseConditioning(manifest: Pick<ModelManifest, 'schedule'>): NoiseConditioning {
  return manifest.schedule.noiseConditioning ?? 'discrete';
}

/** The refiner's arithmetic: the exported float32 network, or its static int8 quantization (QDQ). */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/** An int8 refiner (`diffusevae quantize`): another file of the same set, calibrated on the samplers' timesteps. */
export interface QuantizedModelFile extends ModelFile {
  precision: 'int8';
  calibration?: Record<string, unknown>;
}

/** manifest.json, written by tools/train (`diffusevae export`). */
export interface ModelManifest {
  name: string;
  formatVersion: 1;
  createdAt: string;
  dataset: string;
  image: { resolution: number; channels: number; range: [number, number] };
  latent: { dim: number };
  schedule: {
    numTrainTimesteps: number;
    betaSchedule: 'linear';
    betaStart: number;
    betaEnd: number;
    predictionType: 'epsilon';
    formulation: 1 | 2;
    /** what the refiner is conditioned on: the integer timestep (`t`, the default) or the noise level √ᾱ (`noise_level`) */
    noiseConditioning?: NoiseConditioning;
  };
  refiner: { params: number; weights: string; gflopPerImageStep: number };
  classifier: { featureDim: number; testAccuracy: number | null };
  training: Record<string, Record<string, unknown>>;
  files: Record<ModelRole, ModelFile> & { refinerInt8?: QuantizedModelFile };
}

export type ModelErrorCode = 'MANIFEST_INVALID' | 'MODEL_FILE_MISSING' | 'MODEL_CHECKSUM_MISMATCH' | 'MODEL_SIGNATURE_MISMATCH';

export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function need(cond: unknown, file: string, what: string): asserts cond {
  if (!cond) throw new ModelError('MANIFEST_INVALID', `${file}: ${what}`);
}

/** Reads and checks the shape of <dir>/manifest.json (not the files it names: see verifyModelFile). */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = path.join(dir, 'manifest.json');
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    throw new ModelError('MODEL_FILE_MISSING', `${file}: no model manifest here (MODEL_DIR must be a folder written by "diffusevae export")`);
  }
  let m: ModelManifest;
  try {
    m = JSON.parse(raw) as ModelManifest;
  } catch (e) {
    throw new ModelError('MANIFEST_INVALID', `${file}: not JSON (${(e as Error).message})`);
  }
  need(m.formatVersion === 1, file, `formatVersion must be 1, got ${String(m.formatVersion)}`);
  // the set's services listen on subjects named after it (setSubject)
  need(typeof m.name === 'string' && SET_NAME.test(m.name), file, `name must be one subject token (1–64 letters, digits, _ and -), got ${JSON.stringify(m.name)}`);
  need(Number.isInteger(m.image?.resolution) && m.image.resolution > 0, file, 'image.resolution must be a positive integer');
  need(m.image.channels === 1 || m.image.channels === 3, file, 'image.channels must be 1 or 3');
  need(Number.isInteger(m.latent?.dim) && m.latent.dim > 0, file, 'latent.dim must be a positive integer');
  need(Number.isInteger(m.schedule?.numTrainTimesteps) && m.schedule.numTrainTimesteps > 1, file, 'schedule.numTrainTimesteps must be an integer > 1');
  need(m.schedule.formulation === 1 || m.schedule.formulation === 2, file, 'schedule.formulation must be 1 or 2');
  need(
    m.schedule.noiseConditioning === undefined || NOISE_CONDITIONINGS.includes(m.schedule.noiseConditioning),
    file,
    `schedule.noiseConditioning must be one of ${NOISE_CONDITIONINGS.join(', ')}, got ${JSON.stringify(m.schedule.noiseConditioning)}`,
  );
  for (const role of MODEL_ROLES) {
    const f = m.files?.[role];
    need(f && typeof f.path === 'string', file, `files.${role}.path is missing`);
    need(/^[0-9a-f]{64}$/.test(f.sha256), file, `files.${role}.sha256 must be 64 hex digits`);
    need(!path.isAbsolute(f.path) && !f.path.split(/[\\/]/).includes('..'), file, `files.${role}.path must stay inside the model folder`);
  }
  const q = m.files.refinerInt8;
  if (q !== undefined) {
    need(typeof q.path === 'string' && !path.isAbsolute(q.path) && !q.path.split(/[\\/]/).includes('..'), file, 'files.refinerInt8.path must stay inside the model folder');
    need(/^[0-9a-f]{64}$/.test(q.sha256), file, 'files.refinerInt8.sha256 must be 64 hex digits');
    need(q.precision === 'int8', file, `files.refinerInt8.precision must be "int8", got ${JSON.stringify(q.precision)}`);
  }
  return m;
}

/** The manifests of several sets (MODEL_DIR's list); their names, which name the sets' subjects, must differ. */
export async function readManifests(dirs: readonly string[]): Promise<ModelManifest[]> {
  const manifests = await Promise.all(dirs.map((d) => readManifest(d)));
  const seen = new Map<string, string>();
  manifests.forEach((m, i) => {
    const other = seen.get(m.name);
    if (other !== undefined) throw new ModelError('MANIFEST_INVALID', `two model sets are named ${m.name} (${other} and ${dirs[i]}): each set's name must differ, it names the set's subjects`);
    seen.set(m.name, dirs[i]!);
  });
  return manifests;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The manifest's entry for a role at a precision (int8 exists for the refiner only, when quantized). */
export function modelFileEntry(manifest: ModelManifest, role: ModelRole, precision: Precision = 'fp32'): ModelFile {
  if (precision === 'fp32') return manifest.files[role];
  const q = role === 'refiner' ? manifest.files.refinerInt8 : undefined;
  if (!q) {
    throw new ModelError(
      'MODEL_FILE_MISSING',
      role === 'refiner'
        ? `model set ${manifest.name} has no int8 refiner (files.refinerInt8): make one with \`npm run train -- quantize --model-dir <dir>\``
        : `only the refiner has an int8 version, not the ${role}`,
    );
  }
  return q;
}

/** Reads one model file and refuses it unless its sha256 is the manifest's. Returns the bytes. */
export async function verifyModelFile(dir: string, manifest: ModelManifest, role: ModelRole, precision: Precision = 'fp32'): Promise<Uint8Array> {
  const entry = modelFileEntry(manifest, role, precision);
  const file = path.join(dir, entry.path);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new ModelError('MODEL_FILE_MISSING', `${role} model ${file}: file not found (the manifest lists it)`);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== entry.sha256) {
    throw new ModelError(
      'MODEL_CHECKSUM_MISMATCH',
      `${role} model ${file}: sha256 ${actual} does not match the manifest's ${entry.sha256}; refusing to load it`,
    );
  }
  return bytes;
}
