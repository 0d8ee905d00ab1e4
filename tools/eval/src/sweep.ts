import { loadFashionMnist } from '@diffusevae/datasets';
import { ModelSet } from '@diffusevae/models';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { fid, statsOf, toModel } from './fid.js';
import { runPlan } from './run.js';
const n = Number(process.env.N ?? 500);
const models = await ModelSet.load(process.env.MODEL_DIR!);
const test = await loadFashionMnist('test');
const testStats = await statsOf(models, toModel(test.images));
const d = (o: Partial<SamplerSettings>): SamplerSettings => ({ ...DEFAULT_SAMPLER, kind: 'DDIM', steps: 50, eta: 0, ...o });
const plans: [string, SamplerSettings | null][] = [
  ['vae', null],
  ['ddim50 leading', d({})],
  ['ddim50 trailing', d({ timestepSpacing: 'trailing' })],
  ['ddim50 eta1', d({ eta: 1 })],
  ['ddim50 noclip', d({ clipSample: false })],
  ['ddim10 leading', d({ steps: 10 })],
];
const only = process.env.ONLY?.split(',');
for (const [k, s] of plans) {
  if (only && k !== 'vae' && !only.some((o) => k.includes(o))) continue;
  const r = await runPlan(models, { key: k, label: k, samples: n, sampler: s }, { seed: 0, batch: 250 });
  console.log(`${k.padEnd(18)} FID ${fid(await statsOf(models, r.images), testStats).toFixed(1)}  (${r.seconds.toFixed(0)} s)`);
}
process.exit(0);
