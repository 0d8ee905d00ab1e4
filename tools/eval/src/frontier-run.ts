/**
 * `npm run eval -- --frontier`: measures the frontier's missing points (frontier.ts has the plan and the rules),
 * writing each into <out>/results/eval.json as soon as it is done, then frontier.md and frontier.svg.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelSet, MODEL_ROLES, readManifest } from '@diffusevae/models';
import { Tensor } from '@diffusevae/tensor';
import type { EvalOptions } from './args.js';
import type { FeatureStats } from '@diffusevae/metrics';
import { fid, statsOf } from './fid.js';
import { readJson as readEvalJson, writeJsonAtomic } from './eval-json.js';
import os from 'node:os';
import {
  FRONTIER_SAMPLER_NAMES,
  FRONTIER_SAMPLERS,
  FRONTIER_SPACING,
  FRONTIER_STEPS,
  findPoint,
  frontierMarkdown,
  frontierPlan,
  frontierSvg,
  mergePoint,
  samplerSettings,
  type FrontierPoint,
  type FrontierSpeed,
  type Precision,
} from './frontier.js';
import { runPlan } from './run.js';

type Json = Record<string, unknown> & { frontier?: FrontierPoint[]; frontierSpeed?: FrontierSpeed; rows?: { key: string; fid: number; samples: number }[] };

const readJson = (file: string) => readEvalJson<Json>(file);

/** The reference of the default's rule: DDIM 50, η = 1 (leading), from this eval.json or the committed one. */
async function reference(files: string[]): Promise<{ label: string; fid: number; samples: number }> {
  for (const f of files) {
    const row = (await readJson(f))?.rows?.find((r) => r.key === 'ddim50');
    if (row) return { label: 'DDIM 50 steps, η = 1, leading', fid: row.fid, samples: row.samples };
  }
  throw new Error(`no ddim50 row in ${files.join(' or ')}: run \`npm run eval\` (or --only ddim50 --out <dir>) first`);
}

export async function loadModels(dir: string, precision: Precision, refinerInstances = 1): Promise<ModelSet> {
  return ModelSet.load(dir, MODEL_ROLES, { refinerPrecision: precision, refinerInstances });
}

export async function runFrontier(
  o: EvalOptions & { frontier: NonNullable<EvalOptions['frontier']> },
  ctx: { root: string; modelDir: string; testStats: FeatureStats; command: string; log: (m: string) => void },
): Promise<void> {
  const jsonFile = path.join(o.outDir, 'results', 'eval.json');
  const plan = frontierPlan(o.frontier.samplers, o.frontier.steps, o.frontier.precisions);
  const ref = await reference([jsonFile, path.join(ctx.root, 'docs/results/eval.json')]);
  const t0 = performance.now();
  const models: Partial<Record<Precision, ModelSet>> = {};
  try {
    for (const spec of plan) {
      const m = (models[spec.precision] ??= await loadModels(ctx.modelDir, spec.precision, o.refinerInstances));
      const at = { samples: o.samples, seed: o.seed, refinerSha256: m.checksums.refiner };
      const doc = (await readJson(jsonFile)) ?? {};
      if (findPoint(doc.frontier ?? [], spec, at)) continue;
      if (o.frontier.budgetMin !== undefined && performance.now() - t0 > o.frontier.budgetMin * 60_000) {
        ctx.log(`budget of ${o.frontier.budgetMin} min spent: not starting ${spec.sampler} ${spec.steps} ${spec.precision}`);
        break;
      }
      const key = `${spec.sampler}-${spec.steps}-${spec.precision}`;
      const label = `${FRONTIER_SAMPLERS[spec.sampler].label} ${spec.steps} steps, ${spec.precision}`;
      const r = await runPlan(m, { key, label, samples: o.samples, sampler: samplerSettings(spec, m.manifest.schedule.formulation) }, { seed: o.seed, batch: o.batch, log: ctx.log });
      const f = fid(await statsOf(m, r.images), ctx.testStats);
      const point: FrontierPoint = { ...spec, spacing: FRONTIER_SPACING, fid: f, imageStepsPerSec: r.imageSteps / r.seconds, ...at, date: new Date().toISOString().slice(0, 10) };
      // re-read: another process may have written meanwhile; only this point changes
      const now = (await readJson(jsonFile)) ?? {};
      await writeJsonAtomic(jsonFile, { ...now, frontier: mergePoint(now.frontier ?? [], point) });
      ctx.log(`${key}: FID ${f.toFixed(3)}, ${point.imageStepsPerSec.toFixed(0)} image-steps/s (${(r.seconds / 60).toFixed(1)} min)`);
    }
  } finally {
    await Promise.all(Object.values(models).map((m) => m.release()));
  }
  // the page shows the points of the refiner files as they are now (a retrained model's old points are not its own)
  const manifest = await readManifest(ctx.modelDir);
  const sha: Record<Precision, string | undefined> = { fp32: manifest.files.refiner.sha256, int8: manifest.files.refinerInt8?.sha256 };
  const available = (['fp32', 'int8'] as const).filter((p) => sha[p]);
  // the speed axis: every precision timed in one run, nothing else sampling
  const speed = await timeRefiners(ctx.modelDir, available, o.batch, o.refinerInstances, ctx.log);
  const doc = (await readJson(jsonFile)) ?? {};
  await writeJsonAtomic(jsonFile, { ...doc, frontierSpeed: speed });
  const current = (doc.frontier ?? []).filter((p) => p.refinerSha256 === sha[p.precision]);
  // what the whole frontier still lacks (not only this run's narrowed plan)
  const whole = frontierPlan(FRONTIER_SAMPLER_NAMES, FRONTIER_STEPS, available);
  const missing = whole.filter((s) => !current.some((p) => p.sampler === s.sampler && p.steps === s.steps && p.precision === s.precision && p.samples >= 5000));
  await writeFile(path.join(o.outDir, 'frontier.svg'), frontierSvg(current, ref, speed));
  await writeFile(path.join(o.outDir, 'frontier.md'), frontierMarkdown({ points: current, speed, reference: ref, svgFile: 'frontier.svg', command: 'npm run eval -- --frontier', missing }));
  ctx.log(`wrote ${path.join(o.outDir, 'frontier.md')} and frontier.svg (${current.length} points, ${missing.length} still to measure)`);
}

/** Image-steps/s of the refiner at each precision: rounds of `batch`-image ε calls, the precisions in turn, median. */
async function timeRefiners(modelDir: string, precisions: readonly Precision[], batch: number, refinerInstances: number, log: (m: string) => void): Promise<FrontierSpeed> {
  const sets = await Promise.all(precisions.map((p) => ModelSet.load(modelDir, ['refiner'], { refinerPrecision: p, refinerInstances })));
  try {
    const shape = [batch, ...sets[0]!.imageShape];
    const x = new Tensor(Float32Array.from({ length: batch * sets[0]!.itemSize }, (_, i) => Math.sin(i * 0.37)), shape);
    const t = Array.from({ length: batch }, (_, i) => (i * 97) % 1000);
    const ms: number[][] = sets.map(() => []);
    for (const s of sets) await s.eps(x, t, x);
    for (let round = 0; round < 7; round++) {
      for (const [k, s] of sets.entries()) {
        const t0 = performance.now();
        await s.eps(x, t, x);
        ms[k]!.push(performance.now() - t0);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const rates = Object.fromEntries(precisions.map((p, k) => [p, (batch * 1000) / median(ms[k]!)]));
    log(`refiner speed at batch ${batch}: ${Object.entries(rates).map(([p, v]) => `${p} ${v.toFixed(0)}`).join(', ')} image-steps/s`);
    return { imageStepsPerSec: rates, batch, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', date: new Date().toISOString().slice(0, 10) };
  } finally {
    await Promise.all(sets.map((s) => s.release()));
  }
}

