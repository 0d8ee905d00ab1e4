import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelSet } from '@diffusevae/models';
import { runReverseProcess, type SamplerSettings } from '@diffusevae/schedulers';
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

interface NetworksGolden {
  sha256: Record<string, string>;
  [role: string]: unknown;
}

/** Max |ONNX − PyTorch| for every output of every network on the golden inputs. */
export async function networkParity(models: ModelSet, goldenDir: string): Promise<Record<string, number>> {
  const g = readGolden<NetworksGolden>(goldenDir, 'networks.json');
  const io = (role: string) => g[role] as { inputs: Record<string, GoldenTensor>; outputs: Record<string, GoldenTensor> };
  const diffs: Record<string, number> = {};
  const enc = io('encoder');
  const { mu, logvar } = await models.encode(decodeGolden(enc.inputs.x!));
  diffs['encoder.mu'] = mu.maxAbsDiff(decodeGolden(enc.outputs.mu!));
  diffs['encoder.logvar'] = logvar.maxAbsDiff(decodeGolden(enc.outputs.logvar!));
  const dec = io('decoder');
  diffs['decoder.x_hat'] = (await models.decode(decodeGolden(dec.inputs.z!))).maxAbsDiff(decodeGolden(dec.outputs.x_hat!));
  const ref = io('refiner');
  const t = Array.from(decodeGolden(ref.inputs.t!).data);
  const eps = await models.eps(decodeGolden(ref.inputs.x_t!), t, decodeGolden(ref.inputs.cond!));
  diffs['refiner.eps'] = eps.maxAbsDiff(decodeGolden(ref.outputs.eps!));
  const clf = io('classifier');
  diffs['classifier.features'] = (await models.features(decodeGolden(clf.inputs.x!))).maxAbsDiff(decodeGolden(clf.outputs.features!));
  return diffs;
}

interface LoopCase {
  name: string;
  seed: number;
  settings: SamplerSettings;
  cond: GoldenTensor;
  init?: GoldenTensor;
  output: GoldenTensor;
}

/** Runs each golden loop with the TypeScript schedulers and the ONNX refiner; returns max |TS − Python| / max(1, |Python|∞). */
export async function loopParity(models: ModelSet, goldenDir: string, only?: (name: string) => boolean): Promise<Record<string, number>> {
  const g = readGolden<{ cases: LoopCase[] }>(goldenDir, 'loops.json');
  const result: Record<string, number> = {};
  for (const c of g.cases.filter((c) => !only || only(c.name))) {
    const cond = decodeGolden(c.cond);
    const expected = decodeGolden(c.output);
    const shape = cond.shape;
    const out = await runReverseProcess({
      settings: c.settings,
      seed: c.seed,
      count: cond.batch,
      itemSize: cond.itemSize,
      cond: cond.data,
      ...(c.init ? { init: decodeGolden(c.init).data } : {}),
      epsModel: async (x, t, cd) => (await models.eps(new Tensor(x, shape), t, new Tensor(cd, shape))).data,
    });
    let scale = 1;
    for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
    result[c.name] = new Tensor(out, shape).maxAbsDiff(expected) / scale;
  }
  return result;
}
