import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '@diffusevae/tensor';
import { MODEL_ROLES, modelFileEntry, noiseConditioning, readManifest, readManifests, verifyModelFile, type ModelManifest, type ModelRole, type NoiseConditioning, type Precision } from './manifest.js';
import { OnnxModel, type SessionOptions } from './session.js';

/** models/fmnist in this repository: the set the platform serves when MODEL_DIR is not set. */
export const DEFAULT_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/fmnist');

/** The refiner's input that carries its conditioning on the noise: the timestep t, or the noise level √ᾱ. */
export const LEVEL_INPUT: Record<NoiseConditioning, 't' | 'noise_level'> = { discrete: 't', continuous: 'noise_level' };

/** What each role is fed and returns, as the trainer exports it. */
function signature(role: ModelRole, conditioning: NoiseConditioning): { inputs: string[]; outputs: string[] } {
  switch (role) {
    case 'encoder':
      return { inputs: ['x'], outputs: ['mu', 'logvar'] };
    case 'decoder':
      return { inputs: ['z'], outputs: ['x_hat'] };
    case 'refiner':
      return { inputs: ['x_t', LEVEL_INPUT[conditioning], 'cond'], outputs: ['eps'] };
    case 'classifier':
      return { inputs: ['x'], outputs: ['features'] };
  }
}

export interface LoadOptions extends SessionOptions {
  /** fp32 (default) or the set's int8 refiner (files.refinerInt8); the other roles are always fp32 */
  refinerPrecision?: Precision;
  /** the refiner's instances (SessionOptions.instances; REFINER_INSTANCES); the other roles run one session */
  refinerInstances?: number;
}

export class ModelSet {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    private readonly models: Partial<Record<ModelRole, OnnxModel>>,
    readonly refinerPrecision: Precision,
  ) {}

  /**
   * Loads the roles asked for (a service loads only its own network). Every file is checked against the
   * manifest's sha256 before onnxruntime sees it.
   */
  static async load(dir: string = DEFAULT_MODEL_DIR, roles: readonly ModelRole[] = MODEL_ROLES, opts: LoadOptions = {}): Promise<ModelSet> {
    const manifest = await readManifest(dir);
    const { refinerPrecision = 'fp32', refinerInstances = 1, ...session } = opts;
    const precisionOf = (role: ModelRole): Precision => (role === 'refiner' ? refinerPrecision : 'fp32');
    const models: Partial<Record<ModelRole, OnnxModel>> = {};
    try {
      for (const role of roles) {
        const bytes = await verifyModelFile(dir, manifest, role, precisionOf(role));
        const label = `${role} (${modelFileEntry(manifest, role, precisionOf(role)).path})`;
        const model = await OnnxModel.create(label, bytes, { ...session, instances: role === 'refiner' ? refinerInstances : 1 });
        models[role] = model;
        const { inputs, outputs } = signature(role, noiseConditioning(manifest));
        model.expectSignature(inputs, outputs);
      }
    } catch (e) {
      await Promise.all(Object.values(models).map((m) => m.release()));
      throw e;
    }
    return new ModelSet(dir, manifest, models, refinerPrecision);
  }

  /** Several sets side by side (MODEL_DIR's list), each with the roles asked for; their names must differ. */
  static async loadAll(dirs: readonly string[], roles: readonly ModelRole[] = MODEL_ROLES, opts: LoadOptions = {}): Promise<ModelSet[]> {
    await readManifests(dirs);
    const sets: ModelSet[] = [];
    try {
      for (const dir of dirs) sets.push(await ModelSet.load(dir, roles, opts));
    } catch (e) {
      await Promise.all(sets.map((s) => s.release()));
      throw e;
    }
    return sets;
  }

  /** the set's name (manifest.name): its services' subjects end with it (setSubject) */
  get name(): string {
    return this.manifest.name;
  }

  get imageShape(): [number, number, number] {
    const { channels, resolution } = this.manifest.image;
    return [channels, resolution, resolution];
  }

  get itemSize(): number {
    const [c, h, w] = this.imageShape;
    return c * h * w;
  }

  /** sha256 of each file this set runs (the int8 refiner's when loaded so), for job manifests that reproduce a result. */
  get checksums(): Record<ModelRole, string> {
    const at = (r: ModelRole) => modelFileEntry(this.manifest, r, r === 'refiner' ? this.refinerPrecision : 'fp32');
    return Object.fromEntries(MODEL_ROLES.map((r) => [r, at(r).sha256])) as Record<ModelRole, string>;
  }

  private model(role: ModelRole): OnnxModel {
    const m = this.models[role];
    if (!m) throw new Error(`the ${role} model was not loaded in this process (ModelSet.load roles)`);
    return m;
  }

  /** q(z|x): images [B, C, H, W] in [−1, 1] → μ, log σ² [B, zDim]. */
  async encode(x: Tensor): Promise<{ mu: Tensor; logvar: Tensor }> {
    const out = await this.model('encoder').run({ x });
    return { mu: new Tensor(out.mu!.data, out.mu!.shape), logvar: new Tensor(out.logvar!.data, out.logvar!.shape) };
  }

  /** z [B, zDim] → x̂ [B, C, H, W] in [−1, 1]. */
  async decode(z: Tensor): Promise<Tensor> {
    const out = await this.model('decoder').run({ z });
    return new Tensor(out.x_hat!.data, out.x_hat!.shape);
  }

  /** what the refiner is conditioned on (manifest schedule.noiseConditioning) */
  get noiseConditioning(): NoiseConditioning {
    return noiseConditioning(this.manifest);
  }

  /**
   * ε_θ(x_t, level, x̂) on a batch with a level per sample: the integer timestep t for a discrete set, the noise
   * level √ᾱ for a continuous one.
   */
  async eps(xT: Tensor, levels: readonly number[], cond: Tensor): Promise<Tensor> {
    if (levels.length !== xT.batch) throw new Error(`eps: ${levels.length} noise levels or timesteps for a batch of ${xT.batch}`);
    const level = { data: levels, shape: [levels.length] };
    const out = await this.model('refiner').run({ x_t: xT, [LEVEL_INPUT[this.noiseConditioning]]: level, cond });
    return new Tensor(out.eps!.data, out.eps!.shape);
  }

  /** FID-FMNIST features (the classifier's penultimate layer). */
  async features(x: Tensor): Promise<Tensor> {
    const out = await this.model('classifier').run({ x });
    return new Tensor(out.features!.data, out.features!.shape);
  }

  async release(): Promise<void> {
    await Promise.all(Object.values(this.models).map((m) => m.release()));
  }
}
