import { loadFashionMnist } from '@diffusevae/datasets';
import { psnrPerImage } from '@diffusevae/metrics';
import type { ModelSet } from '@diffusevae/models';
import { denoise, localStages, superResolve, upsample, type PipelineResult } from '@diffusevae/pipeline';
import { Purpose, batchNormals } from '@diffusevae/rng';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import type { FeatureStats } from '@diffusevae/metrics';
import { fid, statsOf, toModel } from './fid.js';

export interface RestorationRow {
  key: string;
  task: string;
  method: string;
  n: number;
  psnr: number;
  fid: number;
}

/** [N, C, H, W] → [N, C, H/f, W/f] by f×f box averaging (the usual low-res degradation for SR benchmarks). */
export function boxDownsample(x: Tensor, f: number): Tensor {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const hh = h / f;
  const ww = w / f;
  const out = new Float32Array(b * c * hh * ww);
  for (let p = 0; p < b * c; p++) {
    for (let y = 0; y < hh; y++) {
      for (let xx = 0; xx < ww; xx++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += x.data[p * h * w + (y * f + dy) * w + xx * f + dx]!;
        out[p * hh * ww + y * ww + xx] = s / (f * f);
      }
    }
  }
  return new Tensor(out, [b, c, hh, ww]);
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
/** model range [−1, 1] → [0, 1] pixels, clamped as a PNG would be */
const to01 = (t: Tensor) => new Tensor(Float32Array.from(t.data, (v) => clamp01((v + 1) / 2)), t.shape);

async function inChunks(x: Tensor, batch: number, fn: (chunk: Tensor, first: number) => Promise<PipelineResult>): Promise<Tensor> {
  const parts: Tensor[] = [];
  for (let i = 0; i < x.batch; i += batch) parts.push((await fn(x.sliceBatch(i, Math.min(x.batch, i + batch)), i)).images);
  return Tensor.concatBatch(parts);
}

/**
 * PSNR (on [0, 1] pixels, against the clean test image) and FID-FMNIST (against the test-set statistics) for
 * super-resolution ×2 / ×4 (bicubic baseline; refined directly from the bicubic image, and through the VAE first)
 * and for denoising at σ = 0.1, 0.2, 0.3 (baseline: the noisy input).
 */
export async function restorationRows(
  models: ModelSet,
  testStats: FeatureStats,
  opts: { n: number; steps: number; seed: number; batch: number; log: (m: string) => void },
): Promise<RestorationRow[]> {
  const stages = localStages(models);
  const { images: clean } = await loadFashionMnist('test', { limit: opts.n });
  const [, c, h, w] = clean.shape as [number, number, number, number];
  const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, kind: 'DDIM', steps: opts.steps, timestepSpacing: 'leading' };
  const rows: RestorationRow[] = [];
  const score = async (key: string, task: string, method: string, out01: Tensor) => {
    const row = {
      key,
      task,
      method,
      n: out01.batch,
      psnr: psnrPerImage(out01.data, clean.data, c * h * w),
      fid: fid(await statsOf(models, toModel(out01)), testStats),
    };
    rows.push(row);
    opts.log(`${key} ${method}: PSNR ${row.psnr.toFixed(2)} dB, FID ${row.fid.toFixed(2)}`);
  };

  for (const f of [2, 4]) {
    const low = boxDownsample(toModel(clean), f);
    const task = `super-resolution ×${f} (${w / f}×${h / f} → ${w}×${h})`;
    await score(`sr${f}_bicubic`, task, 'bicubic', to01(upsample(low, h, w)));
    for (const throughVae of [false, true]) {
      const out = await inChunks(low, opts.batch, (chunk, first) =>
        superResolve(stages, chunk, { seed: opts.seed, firstSample: first, sampler, height: h, width: w, throughVae }),
      );
      await score(`sr${f}${throughVae ? '_vae' : ''}`, task, `DiffuseVAE refiner${throughVae ? ', bicubic → VAE → refine' : ', bicubic → refine'}, DDIM ${opts.steps}, η = ${sampler.eta}`, to01(out));
    }
  }

  for (const sigma of [0.1, 0.2, 0.3]) {
    const noise = batchNormals(opts.seed, Purpose.corruption, Math.round(sigma * 100), clean.batch, c * h * w);
    const noisy01 = new Tensor(Float32Array.from(clean.data, (v, i) => v + sigma * noise[i]!), clean.shape);
    const task = `denoising σ = ${sigma} (on [0, 1] pixels)`;
    await score(`dn${Math.round(sigma * 100)}_noisy`, task, 'noisy input', new Tensor(Float32Array.from(noisy01.data, clamp01), clean.shape));
    const noisy = toModel(noisy01);
    let start = 0;
    const out = await inChunks(noisy, opts.batch, async (chunk, first) => {
      const r = await denoise(stages, chunk, { seed: opts.seed, firstSample: first, sampler, sigma: 2 * sigma, schedule: models.manifest.schedule });
      start = r.startTimestep;
      return r;
    });
    await score(`dn${Math.round(sigma * 100)}`, task, `DiffuseVAE refiner alone, from t = ${start}, DDIM ≤ ${opts.steps}, η = ${sampler.eta}`, to01(out));
  }
  return rows;
}
