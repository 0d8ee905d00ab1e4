/**
 * npm run eval [-- --samples 5000 --ddpm-samples 200 --eta0-samples 1000 --batch 250 --only vae,ddim10]
 * FID-FMNIST of stage-1 and refined samples, written to docs/evaluation.md and docs/results/eval.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadFashionMnist } from '@diffusevae/datasets';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { fid, statsOf, toModel } from './fid.js';
import { markdown, sideBySide, toImages, type EvalResult, type EvalRow } from './report.js';
import { restorationRows } from './restoration.js';
import { runPlan, standardPlans } from './run.js';

const USAGE =
  'usage: npm run eval -- [--samples N] [--ddpm-samples N] [--eta0-samples N] [--restoration-samples N] [--restoration-steps N] [--batch N] [--seed N] [--only k1,k2] [--model-dir DIR] [--out DIR]';

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${v}\n${USAGE}`);
  return n;
}

async function main() {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string' },
      'ddpm-samples': { type: 'string' },
      'eta0-samples': { type: 'string' },
      'restoration-samples': { type: 'string' },
      'restoration-steps': { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      'model-dir': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const samples = positive('samples', values.samples, 5000);
  const ddpmSamples = positive('ddpm-samples', values['ddpm-samples'], 200);
  const eta0Samples = positive('eta0-samples', values['eta0-samples'], 1000);
  const batch = positive('batch', values.batch, 250);
  const restorationSamples = positive('restoration-samples', values['restoration-samples'], 1000);
  const restorationSteps = positive('restoration-steps', values['restoration-steps'], 25);
  const seed = values.seed === undefined ? 0 : positive('seed', values.seed, 0);
  const outDir = path.resolve(values.out ?? path.join(DEFAULT_MODEL_DIR, '../../docs'));
  const plans = standardPlans(samples, ddpmSamples, eta0Samples);
  const only = values.only?.split(',');
  for (const k of only ?? []) {
    if (k !== 'floor' && k !== 'restoration' && !plans.some((p) => p.key === k)) {
      throw new Error(`--only: unknown row ${k} (rows: floor, ${plans.map((p) => p.key).join(', ')}, restoration)`);
    }
  }
  const want = (k: string) => !only || only.includes(k);
  const log = (m: string) => console.log(`[eval] ${m}`);

  const models = await ModelSet.load(values['model-dir'] ?? DEFAULT_MODEL_DIR);
  log(`model set ${models.manifest.name} from ${models.dir}`);
  const test = await loadFashionMnist('test');
  const testStats = await statsOf(models, toModel(test.images));
  log(`test-set features: ${test.images.batch} images`);

  const rows: EvalRow[] = [];
  if (want('floor')) {
    const train = await loadFashionMnist('train', { limit: samples });
    const f = fid(await statsOf(models, toModel(train.images)), testStats);
    rows.push({ key: 'floor', label: 'training images (the floor)', samples: train.images.batch, fid: f });
    log(`floor: FID ${f.toFixed(3)}`);
  }
  let gridPanels: { real: ReturnType<typeof toImages>; vae?: ReturnType<typeof toImages>; refined?: ReturnType<typeof toImages> } = {
    real: toImages(toModel(test.images), 32),
  };
  for (const plan of plans.filter((p) => want(p.key))) {
    const r = await runPlan(models, plan, { seed, batch, log });
    const f = fid(await statsOf(models, r.images), testStats);
    rows.push({
      key: plan.key,
      label: plan.label,
      samples: plan.samples,
      fid: f,
      seconds: r.seconds,
      ...(r.imageSteps ? { imageStepsPerSecond: r.imageSteps / r.seconds } : {}),
    });
    log(`${plan.key}: FID ${f.toFixed(3)} (${plan.samples} samples, ${r.seconds.toFixed(0)}s)`);
    if (plan.key === 'vae') gridPanels = { ...gridPanels, vae: toImages(r.images, 32) };
    if (plan.key === 'ddim50') gridPanels = { ...gridPanels, vae: toImages(r.stage1, 32), refined: toImages(r.images, 32) };
  }

  const restoration = want('restoration')
    ? await restorationRows(models, testStats, { n: restorationSamples, steps: restorationSteps, seed, batch, log })
    : [];

  const result: EvalResult = {
    samples,
    fid: Object.fromEntries(rows.map((r) => [r.key, Number(r.fid.toFixed(4))])),
    rows,
    restoration,
    model: {
      name: models.manifest.name,
      sha256: models.checksums,
      refinerTrainedSteps: models.manifest.training.refiner?.trainedSteps,
      classifierTestAccuracy: models.manifest.classifier.testAccuracy,
    },
    command: ['npm run eval', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    date: new Date().toISOString().slice(0, 10),
  };
  await mkdir(path.join(outDir, 'results'), { recursive: true });
  await writeFile(path.join(outDir, 'results', 'eval.json'), `${JSON.stringify(result, null, 2)}\n`);
  const gridFile = 'samples.png';
  const panels = [gridPanels.real, ...(gridPanels.vae ? [gridPanels.vae] : []), ...(gridPanels.refined ? [gridPanels.refined] : [])];
  await writeFile(path.join(outDir, gridFile), sideBySide(panels, 8));
  await writeFile(path.join(outDir, 'evaluation.md'), markdown(result, gridFile));
  log(`wrote ${path.join(outDir, 'evaluation.md')}, results/eval.json and ${gridFile}`);
  await models.release();
}

main().catch((e: unknown) => {
  console.error(`eval: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
