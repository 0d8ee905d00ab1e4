/**
 * npm run eval [-- --samples 5000 --ddpm-samples 200 --eta0-samples 1000 --batch 250 --only vae,ddim10]
 * FID-FMNIST of stage-1 and refined samples, written to docs/evaluation.md and docs/results/eval.json (a partial
 * run, --only, to tmp/eval unless --out says where). `--frontier`: the speed–quality frontier (frontier-run.ts),
 * docs/frontier.md. `--table3`: the paper's Table 3 (table3-run.ts), a section of evaluation.md. A full run keeps the
 * frontier's and Table 3's measurements in eval.json and the Table 3 section in evaluation.md. Flags: args.ts; exit 2
 * on a usage error.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFashionMnist } from '@diffusevae/datasets';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { fid, statsOf, toModel } from './fid.js';
import { parseEvalArgs, UsageError, USAGE } from './args.js';
import { fullRunJson, markdown, sideBySide, toImages, type EvalResult, type EvalRow } from './report.js';
import { runFrontier } from './frontier-run.js';
import { readJson, writeJsonAtomic } from './eval-json.js';
import { ddim10Baseline, discreteBaseline, table3Markdown, upsertTable3Section, type Table3Results } from './table3.js';
import { runTable3 } from './table3-run.js';
import { restorationRows } from './restoration.js';
import { runPlan, standardPlans } from './run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function main() {
  let parsed: ReturnType<typeof parseEvalArgs>;
  try {
    parsed = parseEvalArgs(process.argv.slice(2), ROOT);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`eval: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return;
  }
  const { samples, ddpmSamples, eta0Samples, batch, restorationSamples, restorationSteps, seed, outDir } = parsed;
  const plans = standardPlans(samples, ddpmSamples, eta0Samples);
  const only = parsed.only;
  for (const k of only ?? []) {
    if (k !== 'floor' && k !== 'restoration' && !plans.some((p) => p.key === k)) {
      console.error(`eval: --only: unknown row ${k} (rows: floor, ${plans.map((p) => p.key).join(', ')}, restoration)`);
      process.exit(2);
    }
  }
  const want = (k: string) => !only || only.includes(k);
  const log = (m: string) => console.log(`[eval] ${m}`);

  const command = ['npm run eval', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  if (parsed.table3) {
    // its own model sets (continuous), each with its test-set statistics
    await runTable3({ ...parsed, table3: parsed.table3 }, { root: ROOT, command, log });
    return;
  }
  const modelDir = parsed.modelDir ?? DEFAULT_MODEL_DIR;
  const models = await ModelSet.load(modelDir, undefined, { refinerInstances: parsed.refinerInstances });
  log(`model set ${models.manifest.name} from ${models.dir}`);
  const test = await loadFashionMnist('test');
  const testStats = await statsOf(models, toModel(test.images));
  log(`test-set features: ${test.images.batch} images`);
  if (parsed.frontier) {
    await models.release();
    await runFrontier({ ...parsed, frontier: parsed.frontier }, { root: ROOT, modelDir, testStats, command, log });
    return;
  }

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
  // the rows on the set's own formulation
  for (const plan of standardPlans(samples, ddpmSamples, eta0Samples, models.manifest.schedule.formulation).filter((p) => want(p.key))) {
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
    command,
    date: new Date().toISOString().slice(0, 10),
  };
  await mkdir(path.join(outDir, 'results'), { recursive: true });
  // what other runs measured (--frontier's points and timing, --table3's cells) is kept across full runs: only the
  // full run's own keys are replaced
  const jsonFile = path.join(outDir, 'results', 'eval.json');
  const previous = (await readJson<Record<string, unknown> & { table3?: Table3Results }>(jsonFile)) ?? {};
  const doc = fullRunJson(result, previous);
  await writeJsonAtomic(jsonFile, doc);
  const gridFile = 'samples.png';
  const panels = [gridPanels.real, ...(gridPanels.vae ? [gridPanels.vae] : []), ...(gridPanels.refined ? [gridPanels.refined] : [])];
  await writeFile(path.join(outDir, gridFile), sideBySide(panels, 8));
  const baseline = discreteBaseline(doc);
  const ddim10 = ddim10Baseline(doc);
  const table3 = previous.table3 ? table3Markdown({ results: previous.table3, ...(baseline ? { baseline } : {}), ...(ddim10 ? { ddim10 } : {}) }) : undefined;
  await writeFile(path.join(outDir, 'evaluation.md'), upsertTable3Section(markdown(result, gridFile), table3));
  log(`wrote ${path.join(outDir, 'evaluation.md')}, results/eval.json and ${gridFile}`);
  await models.release();
}

main().catch((e: unknown) => {
  console.error(`eval: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
