/**
 * `npm run eval:grids`: the paper's two interpolations (its Figure 4) as image grids, for each model set given:
 *
 * - in the VAE latent: z along a slerp path between two seeds' latents, the DDPM noise held fixed (the content changes);
 * - in the DDPM latent: one z (one x̂) held fixed, x_T along a slerp path between two seeds' start noise, the step
 *   noise shared (only the detail the refiner adds changes).
 *
 * Each PNG has the stage-1 images (x̂) on the left and the refined ones on the right, one interpolation per row.
 *   npm run eval:grids -- [--model-dir DIR[,DIR…]] [--out DIR] [--rows N] [--points N]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { interpolate, interpolateNoise, localStages, sampleLatents, type PipelineResult } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import { sideBySide, toImages } from './report.js';

export const INTERPOLATIONS = ['vae-latent', 'ddpm-latent'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

/** What row `row` of a grid interpolates between: the latents' seeds, and for the DDPM latent the two noise seeds. */
export function gridRow(kind: Interpolation, row: number): { zSeeds: [number, number]; noiseSeeds?: [number, number] } {
  if (!Number.isInteger(row) || row < 0) throw new RangeError(`row must be a non-negative integer, got ${row}`);
  return kind === 'vae-latent' ? { zSeeds: [2 * row + 1, 2 * row + 2] } : { zSeeds: [2 * row + 1, 2 * row + 1], noiseSeeds: [100 + 2 * row, 101 + 2 * row] };
}

export const gridFile = (set: string, kind: Interpolation) => `interpolation-${set}-${kind}.png`;

/** the job seed of every row: the DDPM noise of each step (shared by every point) */
const STEP_SEED = 7;

export async function interpolationGrid(models: ModelSet, kind: Interpolation, rows: number, points: number): Promise<Buffer> {
  const stages = localStages(models);
  const dim = models.manifest.latent.dim;
  const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, formulation: models.manifest.schedule.formulation };
  const latent = (seed: number) => sampleLatents(seed, 1, dim, 1).data;
  const results: PipelineResult[] = [];
  for (let r = 0; r < rows; r++) {
    const { zSeeds, noiseSeeds } = gridRow(kind, r);
    const common = { seed: STEP_SEED, sampler, points };
    results.push(
      noiseSeeds
        ? await interpolateNoise(stages, latent(zSeeds[0]), noiseSeeds, common)
        : await interpolate(stages, latent(zSeeds[0]), latent(zSeeds[1]), common),
    );
  }
  const all = (pick: (r: PipelineResult) => Tensor) => Tensor.concatBatch(results.map(pick));
  return sideBySide([toImages(all((r) => r.stage1), rows * points), toImages(all((r) => r.images), rows * points)], points);
}

async function main(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const { values } = parseArgs({ options: { 'model-dir': { type: 'string' }, out: { type: 'string' }, rows: { type: 'string' }, points: { type: 'string' } } });
  const dirs = (values['model-dir'] ?? DEFAULT_MODEL_DIR).split(',').map((d) => path.resolve(d.trim()));
  const outDir = path.resolve(root, values.out ?? 'docs');
  const count = (flag: string, raw: string | undefined, dflt: number, max: number) => {
    const n = raw === undefined ? dflt : Number(raw);
    if (!Number.isInteger(n) || n < 2 || n > max) throw new Error(`--${flag}: must be an integer in [2, ${max}], got ${JSON.stringify(raw)}`);
    return n;
  };
  const rows = count('rows', values.rows, 4, 16);
  const points = count('points', values.points, 8, 16);
  await mkdir(outDir, { recursive: true });
  for (const dir of dirs) {
    const models = await ModelSet.load(dir, ['decoder', 'refiner']);
    try {
      for (const kind of INTERPOLATIONS) {
        const file = path.join(outDir, gridFile(models.name, kind));
        await writeFile(file, await interpolationGrid(models, kind, rows, points));
        console.error(`eval:grids: wrote ${path.relative(root, file)}`);
      }
    } finally {
      await models.release();
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`eval:grids: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
