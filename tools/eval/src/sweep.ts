/**
 * A quick look at several samplers on one model set: FID-FMNIST of each candidate at a small sample count, through the
 * same in-process path as every eval row (runPlan). Not a committed table: docs/samplers.md quotes it with its command
 * (a line it relies on is kept in docs/results/, e.g. sweep-fmnist-cont.jsonl, with the command that printed it).
 *   npx tsx tools/eval/src/sweep.ts <model-dir> <samples> '[["label", { "kind": "DDIM", "eta": 1, "steps": 10, … }], …]' [seed]
 * Each candidate's settings go over DEFAULT_SAMPLER (with the set's formulation); seed 0 unless given, batch 250.
 */
import { loadFashionMnist } from '@diffusevae/datasets';
import { ModelSet } from '@diffusevae/models';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { fid, statsOf, toModel } from './fid.js';
import { runPlan } from './run.js';

const [dir, samplesArg, candidatesArg, seedArg = '0'] = process.argv.slice(2);
if (!dir || !samplesArg || !candidatesArg) {
  console.error("usage: npx tsx tools/eval/src/sweep.ts <model-dir> <samples> '[[\"label\", {…settings}], …]' [seed]");
  process.exit(2);
}
const models = await ModelSet.load(dir);
const test = await loadFashionMnist('test');
const ref = await statsOf(models, toModel(test.images));
const samples = Number(samplesArg);
const seed = Number(seedArg);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`seed: must be a whole number ≥ 0, got ${seedArg}`);
  process.exit(2);
}
const base: SamplerSettings = { ...DEFAULT_SAMPLER, formulation: models.manifest.schedule.formulation };
const candidates = (JSON.parse(candidatesArg) as [string, Partial<SamplerSettings>][]).map(([label, s]) => [label, { ...base, ...s }] as const);
for (const [label, sampler] of candidates) {
  const r = await runPlan(models, { key: label, label, samples, sampler }, { seed, batch: 250 });
  console.log(JSON.stringify({ label, fid: +fid(await statsOf(models, r.images), ref).toFixed(2), samples, seed, seconds: Math.round(r.seconds) }));
}
await models.release();
