import { encodePng, grid, type Image } from '@diffusevae/image';
import type { Tensor } from '@diffusevae/tensor';
import type { RestorationRow } from './restoration.js';

export interface EvalRow {
  key: string;
  label: string;
  samples: number;
  fid: number;
  seconds?: number;
  imageStepsPerSecond?: number;
}

export interface EvalResult {
  samples: number;
  fid: Record<string, number>;
  rows: EvalRow[];
  restoration: RestorationRow[];
  model: { name: string; sha256: Record<string, string>; refinerTrainedSteps: unknown; classifierTestAccuracy: number | null };
  command: string;
  date: string;
}

/**
 * A full run's eval.json: its own keys replaced, every other key of the previous file kept (the frontier's points and
 * timing, Table 3's cells: measured by their own runs, not by a full one).
 */
export function fullRunJson(result: EvalResult, previous: Record<string, unknown> | undefined): EvalResult & Record<string, unknown> {
  return { ...result, ...Object.fromEntries(Object.entries(previous ?? {}).filter(([k]) => !(k in result))) };
}

/** Images [N, C, H, W] in [−1, 1] → Image list in [0, 1] for grid/encodePng. */
export function toImages(t: Tensor, count: number): Image[] {
  const [, c, h, w] = t.shape as [number, number, number, number];
  const k = c * h * w;
  return Array.from({ length: Math.min(count, t.batch) }, (_, i) => ({
    data: Float32Array.from(t.data.subarray(i * k, (i + 1) * k), (v) => (v + 1) / 2),
    width: w,
    height: h,
    channels: c,
  }));
}

/** Panels side by side, each a cols × rows grid, separated by a white gutter. */
export function sideBySide(panels: Image[][], cols: number): Buffer {
  const grids = panels.map((p) => grid(p, cols, 2, 0));
  const gutter = 8;
  const h = Math.max(...grids.map((g) => g.height));
  const w = grids.reduce((a, g) => a + g.width, 0) + gutter * (grids.length - 1);
  const c = grids[0]!.channels;
  const data = new Float32Array(c * h * w).fill(1);
  let x0 = 0;
  for (const g of grids) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < g.height; y++) {
        for (let x = 0; x < g.width; x++) data[ch * h * w + y * w + x0 + x] = g.data[ch * g.height * g.width + y * g.width + x]!;
      }
    }
    x0 += g.width + gutter;
  }
  return encodePng(data, w, h, c as 1 | 3);
}

export function markdown(r: EvalResult, gridFile: string): string {
  const vae = r.fid.vae;
  const lines = [
    '# Evaluation: FID-FMNIST',
    '',
    `Measured ${r.date} with \`${r.command}\` on model set \`${r.model.name}\` (refiner trained ${String(r.model.refinerTrainedSteps)} steps).`,
    '',
    'FID-FMNIST is the Fréchet distance between Gaussian fits of the penultimate-layer features of our own',
    `Fashion-MNIST classifier (test accuracy ${r.model.classifierTestAccuracy !== null ? (100 * r.model.classifierTestAccuracy).toFixed(2) + ' %' : 'n/a'}),`,
    'computed against all 10,000 test images. Lower is better. It is not comparable with Inception FID.',
    'Every row refines the same stage-1 samples (sample i always draws the noise of seed and index i).',
    '',
    '| samples from | n | FID-FMNIST | × VAE-only | image-steps/s |',
    '|---|---:|---:|---:|---:|',
    ...r.rows.map(
      (row) =>
        `| ${row.label} | ${row.samples} | ${row.fid.toFixed(2)} | ${vae !== undefined && row.key !== 'vae' && row.key !== 'floor' ? (row.fid / vae).toFixed(3) : ''} | ${row.imageStepsPerSecond ? row.imageStepsPerSecond.toFixed(0) : ''} |`,
    ),
    '',
    'FID is biased upward at small n (the bias falls roughly as 1/n), so rows with fewer samples read high.',
    'The DDIM rows use DDIM with η = 1, leading spacing, x̂₀ clipped (the default sampler before DPM-Solver++(2M)',
    'SDE 10 steps, trailing, which is `DEFAULT_SAMPLER` in libs/schedulers now: docs/samplers.md); the η = 0 row is',
    'deterministic DDIM, the same stage-1 images and steps.',
    '',
    ...(r.restoration.length
      ? [
          '## Super-resolution and denoising',
          '',
          'On the first test images: PSNR (dB, [0, 1] pixels) against the clean image, higher is better; FID-FMNIST',
          'against the test-set statistics, lower is better. Low-res inputs are box-averaged; noise is Gaussian,',
          'added on [0, 1] pixels. The refiner is the generation model, not retrained for these tasks.',
          '',
          '| task | method | n | PSNR | FID-FMNIST |',
          '|---|---|---:|---:|---:|',
          ...r.restoration.map((x) => `| ${x.task} | ${x.method} | ${x.n} | ${x.psnr.toFixed(2)} | ${x.fid.toFixed(2)} |`),
          '',
        ]
      : []),
    `![VAE-only and refined samples](${gridFile})`,
    '',
    `\`${gridFile}\`: left, test images; middle, VAE-only samples (stage 1); right, the same samples refined with DDIM 50 steps, η = 1.`,
    '',
    'Model files (sha256):',
    '',
    ...Object.entries(r.model.sha256).map(([k, v]) => `- ${k}: \`${v}\``),
    '',
  ];
  return lines.join('\n');
}
