import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LEVEL_INPUT, type ModelSet } from '@diffusevae/models';
import { runReverseProcess, type EpsConditioning, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';

/** A tensor as the trainer's golden.py writes it. */
export interface GoldenTensor {
  dtype: 'float32' | 'int64';
  shape: number[];
  b64?: string;
  data?: number[];
}

export function decodeGolden(g: GoldenTensor): Tensor {
  if (g.dtype === 'int64') return new Tensor(Float32Array.from(g.data!), g.shape);
  const buf = Buffer.from(g.b64!, 'base64');
  return new Tensor(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), g.shape);
}

export function readGolden<T>(dir: string, file: string): T {
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T;
}

export interface NetworksGolden {
  sha256: Record<string, string>;
  [role: string]: unknown;
}

interface NetworkIO {
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenTensor>;
}

/**
 * The roles networks.json holds inputs and outputs for: all four for a set trained from scratch, the refiner only
 * for one fine-tuned from another set (its other files are byte copies of that set's; golden.py write_golden).
 */
export function goldenRoles(g: NetworksGolden): string[] {
  return ['encoder', 'decoder', 'refiner', 'classifier'].filter((r) => g[r] !== undefined);
}

/**
 * Max |ONNX − PyTorch| for every output of every network networks.json holds, on its inputs. The refiner is fed
 * its golden `t` (discrete sets) or `noise_level` (continuous ones), which must be the input the set expects.
 */
export async function networkParity(models: ModelSet, goldenDir: string): Promise<Record<string, number>> {
  const g = readGolden<NetworksGolden>(goldenDir, 'networks.json');
  const io = (role: string) => g[role] as NetworkIO | undefined;
  const diffs: Record<string, number> = {};
  const enc = io('encoder');
  if (enc) {
    const { mu, logvar } = await models.encode(decodeGolden(enc.inputs.x!));
    diffs['encoder.mu'] = mu.maxAbsDiff(decodeGolden(enc.outputs.mu!));
    diffs['encoder.logvar'] = logvar.maxAbsDiff(decodeGolden(enc.outputs.logvar!));
  }
  const dec = io('decoder');
  if (dec) diffs['decoder.x_hat'] = (await models.decode(decodeGolden(dec.inputs.z!))).maxAbsDiff(decodeGolden(dec.outputs.x_hat!));
  const ref = io('refiner');
  if (ref) {
    const levelInput = LEVEL_INPUT[models.noiseConditioning];
    const level = ref.inputs[levelInput];
    if (!level) {
      throw new Error(`${goldenDir}/networks.json: the refiner's inputs are ${Object.keys(ref.inputs).join(', ')}, but a ` +
        `${models.noiseConditioning} set's refiner is fed ${levelInput}`);
    }
    const eps = await models.eps(decodeGolden(ref.inputs.x_t!), Array.from(decodeGolden(level).data), decodeGolden(ref.inputs.cond!));
    diffs['refiner.eps'] = eps.maxAbsDiff(decodeGolden(ref.outputs.eps!));
  }
  const clf = io('classifier');
  if (clf) diffs['classifier.features'] = (await models.features(decodeGolden(clf.inputs.x!))).maxAbsDiff(decodeGolden(clf.outputs.features!));
  return diffs;
}

export interface LoopCase {
  name: string;
  seed: number;
  settings: SamplerSettings;
  /** what the refiner was fed per step; absent in goldens from before noise-level sets: timestep */
  conditioning?: EpsConditioning;
  cond: GoldenTensor;
  init?: GoldenTensor;
  output: GoldenTensor;
}

/** The conditioning a set's refiner takes: the noise level √ᾱ for a continuous set, the timestep otherwise. */
export function setConditioning(models: ModelSet): EpsConditioning {
  return models.noiseConditioning === 'continuous' ? 'noiseLevel' : 'timestep';
}

/**
 * Runs each golden loop with the TypeScript schedulers (on the set's training schedule) and the ONNX refiner, fed
 * what the Python loop fed it (the case's conditioning); returns max |TS − Python| / max(1, |Python|∞).
 */
export async function loopParity(models: ModelSet, goldenDir: string, only?: (name: string) => boolean): Promise<Record<string, number>> {
  const g = readGolden<{ cases: LoopCase[] }>(goldenDir, 'loops.json');
  const { numTrainTimesteps, betaStart, betaEnd } = models.manifest.schedule;
  const result: Record<string, number> = {};
  for (const c of g.cases.filter((c) => !only || only(c.name))) {
    const conditioning = c.conditioning ?? 'timestep';
    if (conditioning !== setConditioning(models)) {
      throw new Error(`${goldenDir}/loops.json ${c.name}: conditioning ${conditioning}, but the set ${models.name} ` +
        `(${models.noiseConditioning}) takes ${setConditioning(models)}`);
    }
    const cond = decodeGolden(c.cond);
    const expected = decodeGolden(c.output);
    const shape = cond.shape;
    const out = await runReverseProcess({
      settings: c.settings,
      schedule: { numTrainTimesteps, betaStart, betaEnd },
      seed: c.seed,
      count: cond.batch,
      itemSize: cond.itemSize,
      cond: cond.data,
      conditioning,
      ...(c.init ? { init: decodeGolden(c.init).data } : {}),
      epsModel: async (x, t, cd) => (await models.eps(new Tensor(x, shape), t, new Tensor(cd, shape))).data,
    });
    let scale = 1;
    for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
    result[c.name] = new Tensor(out, shape).maxAbsDiff(expected) / scale;
  }
  return result;
}
