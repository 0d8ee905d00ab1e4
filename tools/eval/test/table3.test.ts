import { describe, expect, it } from 'vitest';
import type { ModelManifest, ModelSet } from '@diffusevae/models';
import { createScheduler, DEFAULT_SAMPLER } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import { parseEvalArgs, UsageError } from '../src/args.js';
import { fullRunJson, markdown, type EvalResult } from '../src/report.js';
import { runPlan } from '../src/run.js';
import {
  checkTable3Set,
  ddim10Baseline,
  ddimRowsOf,
  discreteBaseline,
  findCell,
  mergeCell,
  table3Claim,
  tenStepBar,
  table3Markdown,
  table3Plan,
  table3Settings,
  free10Settings,
  upsertTable3Section,
  FREE10_ROWS,
  TABLE3_BEGIN,
  TABLE3_END,
  TABLE3_ROWS,
  type Table3Cell,
  type Table3Results,
  type Table3RowKey,
} from '../src/table3.js';

type Schedule = ModelManifest['schedule'];
const schedule = (formulation: 1 | 2, noiseConditioning?: 'discrete' | 'continuous'): Schedule => ({
  numTrainTimesteps: 1000,
  betaSchedule: 'linear',
  betaStart: 1e-4,
  betaEnd: 0.02,
  predictionType: 'epsilon',
  formulation,
  ...(noiseConditioning ? { noiseConditioning } : {}),
});
const form1 = { name: 'f1-cont', schedule: schedule(1, 'continuous') };
const form2 = { name: 'f2-cont', schedule: schedule(2, 'continuous') };
const discrete = { name: 'fmnist', schedule: schedule(1) };

const SHA1 = 'a'.repeat(64);
const SHA2 = 'b'.repeat(64);
const cell = (fid: number, o: Partial<Table3Cell> = {}): Table3Cell => ({
  fid,
  samples: 5000,
  seed: 0,
  refinerSha256: SHA1,
  modelName: 'f1-cont',
  sampler: table3Settings(TABLE3_ROWS[0], form1),
  measuredAt: '2026-12-03T16:00:00.000Z',
  ...o,
});
/** every row of both formulations, Form-1's FID `f1`, Form-2's `f2(row index)` */
const full = (f2: (i: number) => number, samples = 5000): Table3Results => ({
  form1: Object.fromEntries(TABLE3_ROWS.map((r) => [r.key, cell(100, { samples })])),
  form2: Object.fromEntries(TABLE3_ROWS.map((r, i) => [r.key, cell(f2(i), { samples, refinerSha256: SHA2, modelName: 'f2-cont' })])),
});

describe('Table 3: rows and settings', () => {
  it('has the paper’s four rows, cheapest first', () => {
    expect(TABLE3_ROWS.map((r) => [r.key, r.steps, r.betaEnd])).toEqual([
      ['10_0.8', 10, 0.8],
      ['10_0.7', 10, 0.7],
      ['25_0.6', 25, 0.6],
      ['50_0.3', 50, 0.3],
    ]);
    expect(table3Plan(['50_0.3', '10_0.8']).map((p) => `${p.form}/${p.row.key}`)).toEqual(['form1/10_0.8', 'form2/10_0.8', 'form1/50_0.3', 'form2/50_0.3']);
  });

  it('a row’s sampler: DDPM, posterior variance β̃, Linear(1e-6, end) over its steps, the set’s formulation', () => {
    for (const [m, formulation] of [[form1, 1], [form2, 2]] as const) {
      for (const row of TABLE3_ROWS) {
        const s = table3Settings(row, m);
        expect(s).toEqual({
          kind: 'DDPM',
          steps: row.steps,
          eta: 1,
          temperature: 1,
          varianceType: 'fixedsmall',
          timestepSpacing: 'trailing',
          clipSample: true,
          formulation,
          inferenceSchedule: { betaStart: 1e-6, betaEnd: row.betaEnd },
        });
        // the schedulers accept it, and walk every step of the inference schedule
        const sched = createScheduler(s);
        expect(Array.from(sched.timesteps)).toEqual(Array.from({ length: row.steps }, (_, i) => row.steps - 1 - i));
      }
    }
  });

  it('a free 10-step row: its sampler over the default, the σ ends filled in from the set’s training schedule; planned after the paper’s rows', () => {
    const s = free10Settings(FREE10_ROWS[0], form2);
    expect(s).toMatchObject({ ...DEFAULT_SAMPLER, kind: 'DPMPP_2M_SDE', steps: 10, formulation: 2 });
    expect(s.inferenceSchedule).toMatchObject({ kind: 'LOG_SNR' });
    expect(s.inferenceSchedule!.sigmaMin).toBeCloseTo(0.01, 4);
    expect(s.inferenceSchedule!.sigmaMax).toBeCloseTo(157.407, 2);
    expect(createScheduler(s).timesteps).toHaveLength(10);
    expect(() => free10Settings(FREE10_ROWS[0], discrete)).toThrow(/conditioned on the discrete timestep/);
    expect(table3Plan(['free10_logsnr_sde', '10_0.8'], ['form1']).map((p) => p.row.key)).toEqual(['10_0.8', 'free10_logsnr_sde']);
  });

  it('refuses a set conditioned on the discrete timestep, or one of the other formulation, with a clear message', () => {
    expect(() => table3Settings(TABLE3_ROWS[0], discrete)).toThrow(/model set fmnist is conditioned on the discrete timestep .*needs a refiner conditioned on the continuous noise level/);
    expect(() => table3Settings(TABLE3_ROWS[0], { name: 'd', schedule: schedule(2, 'discrete') })).toThrow(/discrete/);
    expect(() => checkTable3Set(form2, 'form1', '--form1-dir')).toThrow('--form1-dir: model set f2-cont is Formulation 2, not 1 (manifest schedule.formulation)');
    expect(() => checkTable3Set(discrete, 'form1', '--form1-dir')).toThrow(/^--form1-dir: model set fmnist is conditioned on the discrete/);
    expect(() => checkTable3Set(form1, 'form1')).not.toThrow();
    expect(() => checkTable3Set(form2, 'form2')).not.toThrow();
  });

  it('the in-process path refuses a sampler of another formulation than the set was trained for', async () => {
    const fake = { manifest: { name: 'f2-cont', latent: { dim: 4 }, schedule: { formulation: 2 } } } as unknown as ModelSet;
    await expect(runPlan(fake, { key: 'ddim10', label: 'k', samples: 1, sampler: table3Settings(TABLE3_ROWS[0], form1) }, { seed: 0, batch: 1 })).rejects.toThrow(
      'ddim10: the sampler is Formulation 1, but the refiner of f2-cont was trained for Formulation 2',
    );
  });

  it('the in-process path feeds a continuous set the noise level √ᾱ of each step, a discrete one the timestep', async () => {
    const row = TABLE3_ROWS[0];
    const seen = async (noiseConditioning: 'discrete' | 'continuous', sampler = table3Settings(row, form1)) => {
      const levels: number[][] = [];
      const fake = {
        manifest: { name: 'fake', latent: { dim: 4 }, schedule: { formulation: 1 } },
        noiseConditioning,
        encode: () => Promise.reject(new Error('unused')),
        decode: async (z: Tensor) => new Tensor(new Float32Array(z.batch * 4), [z.batch, 1, 2, 2]),
        eps: async (x: Tensor, l: readonly number[]) => {
          levels.push([...l]);
          return new Tensor(new Float32Array(x.size), x.shape);
        },
      } as unknown as ModelSet;
      await runPlan(fake, { key: 'k', label: 'k', samples: 3, sampler }, { seed: 0, batch: 2 });
      return levels;
    };
    const cont = await seen('continuous');
    // Linear(1e-6, 0.8) over 10 steps: ᾱ_i = Π_{j≤i} (1 − β_j), fed from the last step down to the first
    const betas = Array.from({ length: row.steps }, (_, i) => 1e-6 + ((row.betaEnd - 1e-6) * i) / (row.steps - 1));
    const alphaBar = betas.map((_, i) => betas.slice(0, i + 1).reduce((a, b) => a * (1 - b), 1));
    const want = alphaBar.map(Math.sqrt).reverse();
    expect(cont.length).toBe(2 * row.steps); // two batches (2 + 1 samples), one call per step
    for (const [k, l] of cont.slice(0, row.steps).entries()) {
      expect(l).toHaveLength(2);
      expect(l[0]).toBeCloseTo(want[k]!, 5);
    }
    const disc = await seen('discrete', { ...DEFAULT_SAMPLER, kind: 'DDIM', steps: 5, timestepSpacing: 'trailing' });
    expect(disc.slice(0, 5).map((l) => l[0])).toEqual([999, 799, 599, 399, 199]);
  });
});

describe('Table 3: resume, the claim, the page', () => {
  const at = { samples: 5000, seed: 0, refinerSha256: SHA1 };

  it('keeps a cell only for the same refiner file, samples, seed (and sampler); a re-measurement replaces it', () => {
    const results = mergeCell(undefined, 'form1', '10_0.8', cell(120));
    expect(findCell(results, 'form1', '10_0.8', at)?.fid).toBe(120);
    expect(findCell(results, 'form1', '10_0.8', { ...at, sampler: table3Settings(TABLE3_ROWS[0], form1) })?.fid).toBe(120);
    expect(findCell(results, 'form1', '10_0.8', { ...at, refinerSha256: SHA2 })).toBeUndefined(); // re-exported weights
    expect(findCell(results, 'form1', '10_0.8', { ...at, samples: 64 })).toBeUndefined();
    expect(findCell(results, 'form1', '10_0.8', { ...at, seed: 1 })).toBeUndefined();
    expect(findCell(results, 'form1', '10_0.8', { ...at, sampler: table3Settings(TABLE3_ROWS[1], form1) })).toBeUndefined();
    expect(findCell(results, 'form2', '10_0.8', at)).toBeUndefined();
    expect(findCell(results, 'form1', '10_0.7', at)).toBeUndefined();
    expect(findCell(undefined, 'form1', '10_0.8', at)).toBeUndefined();

    const more = mergeCell(mergeCell(results, 'form1', '50_0.3', cell(90)), 'form2', '10_0.8', cell(110, { refinerSha256: SHA2 }));
    const again = mergeCell(more, 'form1', '10_0.8', cell(115, { samples: 64 }));
    expect(Object.keys(again.form1!)).toEqual(['10_0.8', '50_0.3']); // the table's order
    expect(again.form1!['10_0.8']!.fid).toBe(115);
    expect(again.form2!['10_0.8']!.fid).toBe(110);
    expect(more.form1!['10_0.8']!.fid).toBe(120); // not changed in place
  });

  it('the claim: confirmed, refuted, or not yet measured', () => {
    expect(table3Claim(full(() => 95)).verdict).toBe('confirmed');
    expect(table3Claim(full(() => 100)).verdict).toBe('confirmed'); // ties: Form-2 ≤ Form-1
    expect(table3Claim(full((i) => (i === 2 ? 101 : 95)))).toEqual({ verdict: 'refuted', complete: 8, worse: ['25_0.6'] });
    expect(table3Claim(undefined)).toMatchObject({ verdict: 'not yet measured', complete: 0 });
    const seven = full(() => 95);
    delete seven.form2!['50_0.3'];
    expect(table3Claim(seven)).toMatchObject({ verdict: 'not yet measured', complete: 7 });
    // all 8 measured, but under 5,000 samples: neither way
    expect(table3Claim(full(() => 95, 4999))).toMatchObject({ verdict: 'not yet measured', complete: 0 });
    expect(table3Claim(full(() => 120, 64)).verdict).toBe('not yet measured');
    // one short cell among eight
    const short = full(() => 120);
    short.form1!['10_0.7'] = cell(100, { samples: 1000 });
    expect(table3Claim(short)).toMatchObject({ verdict: 'not yet measured', complete: 7 });
  });

  it('the section: the paper’s layout, missing cells, the sample counts, the discrete baseline, the verdict', () => {
    const some = mergeCell(mergeCell(undefined, 'form1', '10_0.8', cell(172.314)), 'form2', '10_0.8', cell(168.5, { refinerSha256: SHA2, modelName: 'f2-cont', samples: 64 }));
    const md = table3Markdown({ results: some, baseline: { modelName: 'fmnist', label: 'DPM-Solver++(2M) SDE, 10 steps', fid: 177.36, samples: 5000, source: 'eval.json rows.dpmpp2msde10' } });
    expect(md.startsWith(TABLE3_BEGIN)).toBe(true);
    expect(md.endsWith(TABLE3_END)).toBe(true);
    expect(md).toContain('| steps | inference schedule | Form-1 | Form-2 |');
    expect(md).toContain('| 10 | Linear(1e-6, 0.8) | 172.31 (n = 5000) | 168.50 (n = 64) |');
    expect(md).toContain('| 10 | Linear(1e-6, 0.7) | not measured yet | not measured yet |');
    expect(md).toContain('| 50 | Linear(1e-6, 0.3) | not measured yet | not measured yet |');
    expect(md).toMatch(/discrete Formulation-1 set `fmnist` with DPM-Solver\+\+\(2M\) SDE, 10 steps: FID 177\.36 \(n = 5000, .*\); the best Table 3 cell, Form-2 10 steps .* is 0\.950× that\./);
    expect(md).toContain('Form-1: `f1-cont` (refiner `aaaaaaaaaaaa…`); Form-2: `f2-cont` (refiner `bbbbbbbbbbbb…`)');
    expect(md).toContain('The paper’s claim (Form-2 slightly ahead of Form-1): **not yet measured** (1 of 8 cells at ≥ 5,000 samples).');

    const empty = table3Markdown({ results: undefined });
    // the paper's four rows and the free 10-step one
    expect(empty.match(/not measured yet \| not measured yet/g)).toHaveLength(4 + FREE10_ROWS.length);
    expect(empty).toContain('| 10 | DPM-Solver++(2M) SDE, LOG_SNR over the training σ range | not measured yet | not measured yet |');
    expect(empty).toContain('default-sampler FID is not in eval.json yet');
    expect(empty).toContain('Form-1: none measured yet');
    expect(table3Markdown({ results: full(() => 95) })).toContain('**confirmed**: Form-2 ≤ Form-1 in all 4 rows.');
    expect(table3Markdown({ results: full((i) => (i === 0 ? 101 : 95)) })).toContain('**refuted**: Form-2 is above Form-1 in `10_0.8`.');
  });

  it('the discrete baseline: the full run’s default-sampler row, else the frontier’s point of the same refiner', () => {
    const model = { name: 'fmnist', sha256: { refiner: SHA1 } };
    const pt = { sampler: 'dpmpp2m-sde', steps: 10, precision: 'fp32', fid: 177.36, samples: 5000, refinerSha256: SHA1 };
    expect(discreteBaseline({ model, rows: [{ key: 'dpmpp2msde10', fid: 170, samples: 5000 }], frontier: [pt] })).toMatchObject({ modelName: 'fmnist', fid: 170, source: 'eval.json rows.dpmpp2msde10' });
    expect(discreteBaseline({ model, rows: [{ key: 'ddim50', fid: 176, samples: 5000 }], frontier: [{ ...pt, precision: 'int8', fid: 160 }, pt] })).toMatchObject({ fid: 177.36, samples: 5000 });
    expect(discreteBaseline({ model: { ...model, sha256: { refiner: SHA2 } }, frontier: [pt] })).toBeUndefined(); // another refiner's point
    expect(discreteBaseline({})).toBeUndefined();
  });

  it('the 10-step bar: the better 10-step Form-1 cell at ≥ 5,000 samples against the discrete DDIM 10 row', () => {
    const ddim10 = ddim10Baseline({ model: { name: 'fmnist' }, rows: [{ key: 'ddim50', fid: 176, samples: 5000 }, { key: 'ddim10', fid: 218.92, samples: 5000 }] });
    expect(ddim10).toMatchObject({ modelName: 'fmnist', fid: 218.92, samples: 5000, source: 'eval.json rows.ddim10' });
    expect(ddim10Baseline({ rows: [{ key: 'ddim50', fid: 176, samples: 5000 }] })).toBeUndefined();
    const two = mergeCell(mergeCell(undefined, 'form1', '10_0.8', cell(221)), 'form1', '10_0.7', cell(215));
    expect(tenStepBar(two, ddim10)).toMatchObject({ verdict: 'met', row: { key: '10_0.7' }, cell: { fid: 215 } });
    expect(tenStepBar(two, { ...ddim10!, fid: 210 }).verdict).toBe('not met');
    // a short cell does not count, nor Form-2, nor a longer row; a short baseline gives no verdict
    const short = mergeCell(mergeCell(mergeCell(undefined, 'form1', '10_0.7', cell(100, { samples: 500 })), 'form2', '10_0.7', cell(100)), 'form1', '25_0.6', cell(100));
    expect(tenStepBar(short, ddim10)).toEqual({ verdict: 'not yet measured' });
    expect(tenStepBar(two, { ...ddim10!, samples: 1000 }).verdict).toBe('not yet measured');
    expect(tenStepBar(two, undefined).verdict).toBe('not yet measured');
    const md = table3Markdown({ results: two, ddim10: ddim10!, baseline: { modelName: 'fmnist', label: 'the default sampler', fid: 177.36, samples: 5000, source: 's' } });
    expect(md).toContain('its best 10-step row, DDPM 10 steps Linear(1e-6, 0.7), reads 215.00 (0.982×): **met**; against the default sampler it is 1.212×.');
    // a free 10-step row counts for the bar (Form-1 only, at ≥ 5,000 samples), and the best one is quoted
    const free = mergeCell(two, 'form1', 'free10_logsnr_sde', cell(175));
    expect(Object.keys(free.form1!)).toEqual(['10_0.8', '10_0.7', 'free10_logsnr_sde']);
    expect(tenStepBar(free, { ...ddim10!, fid: 200 })).toMatchObject({ verdict: 'met', row: { key: 'free10_logsnr_sde' }, cell: { fid: 175 } });
    expect(table3Markdown({ results: free, ddim10: ddim10! })).toContain('its best 10-step row, DPM-Solver++(2M) SDE, LOG_SNR over the training σ range, 10 steps, reads 175.00 (0.799×): **met**');
    expect(tenStepBar(mergeCell(two, 'form2', 'free10_logsnr_sde', cell(100)), { ...ddim10!, fid: 210 }).verdict).toBe('not met');
    expect(tenStepBar(mergeCell(two, 'form1', 'free10_logsnr_sde', cell(100, { samples: 500 })), { ...ddim10!, fid: 210 }).verdict).toBe('not met');
    // the paper's claim counts only the paper's rows
    expect(table3Claim(mergeCell(full(() => 95), 'form2', 'free10_logsnr_sde', cell(500))).verdict).toBe('confirmed');
    expect(table3Markdown({ results: undefined, ddim10: ddim10! })).toContain('**not yet measured** (no 10-step Form-1 cell at ≥ 5,000 samples).');
    expect(table3Markdown({ results: two })).not.toContain('10-step row');
  });

  it('each set’s DDIM rows: read from an eval.json (ddim… keys only), one column per set, a missing row said so', () => {
    const discreteRows = ddimRowsOf(
      { model: { name: 'fmnist' }, rows: [{ key: 'vae', label: 'VAE', fid: 660, samples: 5000 }, { key: 'ddim10', label: 'DDIM 10', fid: 218.923, samples: 5000 }, { key: 'ddim50eta0', fid: 254, samples: 1000 }, { key: 'ddim50', fid: 176.2, samples: 5000 }] },
      'docs/results/eval.json',
    );
    expect(discreteRows).toEqual({ modelName: 'fmnist', source: 'docs/results/eval.json', rows: [{ key: 'ddim10', label: 'DDIM 10', fid: 218.923, samples: 5000 }, { key: 'ddim50', label: 'ddim50', fid: 176.2, samples: 5000 }] });
    expect(ddimRowsOf({ rows: [{ key: 'vae', fid: 1, samples: 1 }] }, 'x')).toBeUndefined();
    const cont = ddimRowsOf({ model: { name: 'f1-cont' }, rows: [{ key: 'ddim25', fid: 190.5, samples: 5000 }, { key: 'ddim10', fid: 230, samples: 5000 }] }, 'docs/eval-f1-cont/results/eval.json')!;
    const md = table3Markdown({ results: undefined, setRows: [discreteRows!, cont] });
    expect(md).toContain('| DDIM steps | `fmnist` | `f1-cont` |');
    expect(md).toContain('| 10 | 218.92 (n = 5000) | 230.00 (n = 5000) |');
    expect(md).toContain('| 25 | not measured | 190.50 (n = 5000) |');
    expect(md).toContain('| 50 | 176.20 (n = 5000) | not measured |');
    expect(md).toContain('From docs/results/eval.json, docs/eval-f1-cont/results/eval.json');
    expect(table3Markdown({ results: undefined })).not.toContain('DDIM steps');
  });

  it('the section goes in place of the old one, before the model files, or at the end', () => {
    const s1 = table3Markdown({ results: undefined });
    const s2 = table3Markdown({ results: full(() => 95) });
    const page = '# Evaluation\n\n| a |\n\nModel files (sha256):\n\n- refiner: `x`\n';
    const once = upsertTable3Section(page, s1);
    expect(once).toBe(`# Evaluation\n\n| a |\n\n${s1}\n\nModel files (sha256):\n\n- refiner: \`x\`\n`);
    const twice = upsertTable3Section(once, s2);
    expect(twice).toBe(`# Evaluation\n\n| a |\n\n${s2}\n\nModel files (sha256):\n\n- refiner: \`x\`\n`);
    expect(upsertTable3Section('# Only a title\n', s1)).toBe(`# Only a title\n\n${s1}\n`);
    expect(upsertTable3Section(page, undefined)).toBe(page);
  });

  it('a full run keeps table3 (and the frontier) in eval.json and the section in its page', () => {
    const result: EvalResult = {
      samples: 10,
      fid: { vae: 80 },
      rows: [{ key: 'vae', label: 'vae', samples: 10, fid: 80 }],
      restoration: [],
      model: { name: 'fmnist', sha256: { refiner: SHA1 }, refinerTrainedSteps: 1, classifierTestAccuracy: 0.9 },
      command: 'npm run eval',
      date: '2026-12-03',
    };
    const table3 = full(() => 95);
    const previous = { samples: 5000, rows: [], fid: { vae: 1 }, frontier: [{ sampler: 'dpmpp2m-sde' }], frontierSpeed: { batch: 250 }, table3 };
    const doc = fullRunJson(result, previous);
    expect(doc).toMatchObject({ samples: 10, fid: { vae: 80 }, frontier: previous.frontier, frontierSpeed: { batch: 250 }, table3 });
    expect(doc.rows).toBe(result.rows);
    const page = upsertTable3Section(markdown(result, 'samples.png'), table3Markdown({ results: doc.table3 as Table3Results }));
    expect(page).toContain('## Table 3: Formulation 1 and 2, continuous noise conditioning');
    expect(page.indexOf(TABLE3_END)).toBeLessThan(page.indexOf('Model files (sha256):'));
  });
});

describe('Table 3: flags', () => {
  it('--table3 with its rows and sets; defaults: all rows, the two continuous sets, 5,000 samples, docs/', () => {
    expect(parseEvalArgs(['--table3'], '/repo')).toMatchObject({
      samples: 5000,
      seed: 0,
      outDir: '/repo/docs',
      table3: { rows: ['10_0.8', '10_0.7', '25_0.6', '50_0.3', 'free10_logsnr_sde'], form1Dir: '/repo/models/fmnist-cont', form2Dir: '/repo/models/fmnist-f2-cont' },
    });
    const o = parseEvalArgs(['--table3', '--rows', '10_0.8, 50_0.3', '--form1-dir', 'a', '--form2-dir', '/b', '--samples', '64', '--budget-min', '30', '--batch', '32', '--seed', '3', '--out', '/tmp/t3'], '/repo');
    expect(o).toMatchObject({ samples: 64, batch: 32, seed: 3, outDir: '/tmp/t3', table3: { rows: ['10_0.8', '50_0.3'], form1Dir: '/repo/a', form2Dir: '/b', budgetMin: 30 } });
    expect((o as { frontier?: unknown }).frontier).toBeUndefined();
  });

  it('errors name the flag', () => {
    const bad = (args: string[], msg: string | RegExp) => expect(() => parseEvalArgs(args, '/r')).toThrow(msg instanceof RegExp ? msg : new UsageError(msg));
    bad(['--table3', '--rows', '10_0.9'], '--rows: must be among 10_0.8, 10_0.7, 25_0.6, 50_0.3, free10_logsnr_sde, got "10_0.9"');
    bad(['--table3', '--rows', ','], /^--rows: give one or more of/);
    bad(['--rows', '10_0.8'], '--rows: only with --table3');
    bad(['--form1-dir', 'x'], '--form1-dir: only with --table3');
    bad(['--form2-dir', 'x'], '--form2-dir: only with --table3');
    bad(['--table3', '--form2-dir', ''], "--form2-dir: give a model set's folder");
    bad(['--table3', '--frontier'], '--table3 and --frontier: choose one (each has its own points)');
    bad(['--table3', '--only', 'vae'], '--table3 and --only: choose one (Table 3 has its own rows)');
    bad(['--table3', '--model-dir', 'models/fmnist'], /^--model-dir: not with --table3/);
    bad(['--table3', '--steps', '5'], '--steps: only with --frontier');
    bad(['--budget-min', '5'], '--budget-min: only with --frontier or --table3');
    bad(['--table3', '--budget-min', '0'], /^--budget-min: must be an integer ≥ 1/);
    bad(['--table3', '--samples', 'x'], /^--samples: must be an integer/);
    for (const k of ['10_0.8', '10_0.7', '25_0.6', '50_0.3'] satisfies Table3RowKey[]) expect(parseEvalArgs(['--table3', '--rows', k], '/r')).toMatchObject({ table3: { rows: [k] } });
  });
});
