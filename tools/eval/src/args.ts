/**
 * The flags of `npm run eval`, parsed (pure: no files, no models). A full run writes docs/evaluation.md; a partial
 * one (`--only`) writes under tmp/eval unless `--out` says where, so that it never replaces the committed page.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FRONTIER_SAMPLER_NAMES, FRONTIER_STEPS, PRECISIONS, type FrontierSampler, type Precision } from './frontier.js';
import { TABLE3_ALL_KEYS, type Table3RowKey } from './table3.js';

export const USAGE = `usage: npm run eval -- [--samples N] [--ddpm-samples N] [--eta0-samples N] [--restoration-samples N]
                        [--restoration-steps N] [--batch N] [--seed N] [--only k1,k2] [--model-dir DIR] [--out DIR]
  --only   some rows only (floor, vae, ddim10, ddim25, ddim50, ddim50eta0, dpmpp2msde10, dpmpp2msde12, ddpm1000, restoration); a partial run is
           written to tmp/eval unless --out is given (the committed docs/evaluation.md is a full run's)
  --out    where evaluation.md, samples.png and results/eval.json go (default: docs/, or tmp/eval with --only)

       npm run eval -- --frontier [--samplers s1,s2] [--steps 5,8,…] [--precision fp32,int8] [--budget-min M]
                       [--samples N] [--batch N] [--seed N] [--model-dir DIR] [--out DIR]
  --frontier    FID-FMNIST and images/s of each sampler (${FRONTIER_SAMPLER_NAMES.join(', ')}) at each step count
                (default ${FRONTIER_STEPS.join(', ')}) and precision (default fp32,int8); points already in
                <out>/results/eval.json for the same refiner, samples and seed are kept, the rest measured, each written
                when done; then <out>/frontier.md and frontier.svg. Default --out docs/
  --budget-min  start no new point after M minutes (the next run goes on with the rest)

       npm run eval -- --table3 [--rows ${TABLE3_ALL_KEYS.join(',')}] [--form1-dir DIR] [--form2-dir DIR] [--budget-min M]
                       [--samples N] [--batch N] [--seed N] [--out DIR]
  --table3      the paper's Table 3: FID-FMNIST of the Formulation-1 and Formulation-2 refiners conditioned on the
                continuous noise level, DDPM on Linear(1e-6, end) over n steps, rows steps_end, and the free 10-step
                rows (free10_…: other samplers and schedules, the continuous set's 10-step bar); default all;
                cells already in <out>/results/eval.json (table3) for the same refiner, samples and seed are kept, the
                rest measured, each written when done; then the "Table 3" section of <out>/evaluation.md. Default
                --out docs/
  --form1-dir   the Formulation-1 continuous set (default models/fmnist-cont)
  --form2-dir   the Formulation-2 continuous set (default models/fmnist-f2-cont)
  --budget-min  start no new cell after M minutes

  every run: --refiner-instances N  onnxruntime sessions of the refiner, each in a worker thread sharing the cores,
                a batch split across them (REFINER_INSTANCES of a refiner replica; default 1; docs/efficiency.md)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface EvalOptions {
  samples: number;
  ddpmSamples: number;
  eta0Samples: number;
  restorationSamples: number;
  restorationSteps: number;
  batch: number;
  seed: number;
  /** --refiner-instances: the refiner's sessions (LoadOptions.refinerInstances) */
  refinerInstances: number;
  /** undefined: every row */
  only?: string[];
  modelDir?: string;
  outDir: string;
  /** --frontier: what to measure */
  frontier?: { samplers: FrontierSampler[]; steps: number[]; precisions: Precision[]; budgetMin?: number };
  /** --table3: which rows, with which sets (absolute paths) */
  table3?: { rows: Table3RowKey[]; form1Dir: string; form2Dir: string; budgetMin?: number };
}

function list<T extends string>(name: string, v: string | undefined, allowed: readonly T[], dflt: readonly T[]): T[] {
  if (v === undefined) return [...dflt];
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name}: give one or more of ${allowed.join(', ')}, comma-separated`);
  for (const i of items) if (!allowed.includes(i as T)) throw new UsageError(`--${name}: must be among ${allowed.join(', ')}, got ${JSON.stringify(i)}`);
  return items as T[];
}

function positive(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min) throw new UsageError(`--${name}: must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** `root`: the repository root (docs/ and tmp/ are under it). Returns 'help' for --help / -h. */
export function parseEvalArgs(argv: string[], root: string): EvalOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        samples: { type: 'string' },
        'ddpm-samples': { type: 'string' },
        'eta0-samples': { type: 'string' },
        'restoration-samples': { type: 'string' },
        'restoration-steps': { type: 'string' },
        batch: { type: 'string' },
        seed: { type: 'string' },
        'refiner-instances': { type: 'string' },
        only: { type: 'string' },
        'model-dir': { type: 'string' },
        out: { type: 'string' },
        frontier: { type: 'boolean' },
        samplers: { type: 'string' },
        steps: { type: 'string' },
        precision: { type: 'string' },
        'budget-min': { type: 'string' },
        table3: { type: 'boolean' },
        rows: { type: 'string' },
        'form1-dir': { type: 'string' },
        'form2-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (values.only !== undefined && !only?.length) throw new UsageError('--only: give one or more rows, comma-separated');
  const given = (keys: string[]) => keys.filter((k) => values[k as keyof typeof values] !== undefined);
  if (values.frontier && values.table3) throw new UsageError('--table3 and --frontier: choose one (each has its own points)');
  if (values.table3 && only) throw new UsageError('--table3 and --only: choose one (Table 3 has its own rows)');
  const frontierOnly = given(['samplers', 'steps', 'precision']);
  if (!values.frontier && frontierOnly.length) throw new UsageError(`--${frontierOnly[0]}: only with --frontier`);
  const table3Only = given(['rows', 'form1-dir', 'form2-dir']);
  if (!values.table3 && table3Only.length) throw new UsageError(`--${table3Only[0]}: only with --table3`);
  if (!values.frontier && !values.table3 && values['budget-min'] !== undefined) throw new UsageError('--budget-min: only with --frontier or --table3');
  if (values.frontier && only) throw new UsageError('--frontier and --only: choose one (the frontier has its own points)');
  if (values.table3 && values['model-dir'] !== undefined) throw new UsageError('--model-dir: not with --table3 (it takes --form1-dir and --form2-dir)');
  const budgetMin = values['budget-min'] !== undefined ? { budgetMin: positive('budget-min', values['budget-min'], 0) } : {};
  let table3: EvalOptions['table3'];
  if (values.table3) {
    const rows = list('rows', values.rows, TABLE3_ALL_KEYS, TABLE3_ALL_KEYS);
    for (const k of ['form1-dir', 'form2-dir'] as const) if (values[k] !== undefined && !values[k].trim()) throw new UsageError(`--${k}: give a model set's folder`);
    table3 = {
      rows: [...new Set(rows)],
      form1Dir: path.resolve(root, values['form1-dir'] ?? 'models/fmnist-cont'),
      form2Dir: path.resolve(root, values['form2-dir'] ?? 'models/fmnist-f2-cont'),
      ...budgetMin,
    };
  }
  let frontier: EvalOptions['frontier'];
  if (values.frontier) {
    const steps = (values.steps ?? FRONTIER_STEPS.join(',')).split(',').map((s) => positive('steps', s.trim(), 0));
    if (steps.some((s) => s > 1000)) throw new UsageError(`--steps: each must be in [1, 1000], got ${values.steps}`);
    frontier = {
      samplers: list('samplers', values.samplers, FRONTIER_SAMPLER_NAMES, FRONTIER_SAMPLER_NAMES),
      steps: [...new Set(steps)],
      precisions: list('precision', values.precision, PRECISIONS, PRECISIONS),
      ...budgetMin,
    };
  }
  return {
    samples: positive('samples', values.samples, 5000),
    ddpmSamples: positive('ddpm-samples', values['ddpm-samples'], 200),
    eta0Samples: positive('eta0-samples', values['eta0-samples'], 1000),
    restorationSamples: positive('restoration-samples', values['restoration-samples'], 1000),
    restorationSteps: positive('restoration-steps', values['restoration-steps'], 25),
    batch: positive('batch', values.batch, 250),
    seed: positive('seed', values.seed, 0, 0),
    refinerInstances: positive('refiner-instances', values['refiner-instances'], 1),
    ...(only ? { only } : {}),
    ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
    outDir: path.resolve(values.out ?? path.join(root, only ? 'tmp/eval' : 'docs')),
    ...(frontier ? { frontier } : {}),
    ...(table3 ? { table3 } : {}),
  };
}
