/**
 * The flags of `npm run eval`, parsed (pure: no files, no models). A full run writes docs/evaluation.md; a partial
 * one (`--only`) writes under tmp/eval unless `--out` says where, so that it never replaces the committed page.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run eval -- [--samples N] [--ddpm-samples N] [--eta0-samples N] [--restoration-samples N]
                        [--restoration-steps N] [--batch N] [--seed N] [--only k1,k2] [--model-dir DIR] [--out DIR]
  --only   some rows only (floor, vae, ddim10, ddim25, ddim50, ddim50eta0, dpmpp2msde10, dpmpp2msde12, ddpm1000, restoration); a partial run is
           written to tmp/eval unless --out is given (the committed docs/evaluation.md is a full run's)
  --out    where evaluation.md, samples.png and results/eval.json go (default: docs/, or tmp/eval with --only)`;

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
  /** undefined: every row */
  only?: string[];
  modelDir?: string;
  outDir: string;
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
        only: { type: 'string' },
        'model-dir': { type: 'string' },
        out: { type: 'string' },
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
  return {
    samples: positive('samples', values.samples, 5000),
    ddpmSamples: positive('ddpm-samples', values['ddpm-samples'], 200),
    eta0Samples: positive('eta0-samples', values['eta0-samples'], 1000),
    restorationSamples: positive('restoration-samples', values['restoration-samples'], 1000),
    restorationSteps: positive('restoration-steps', values['restoration-steps'], 25),
    batch: positive('batch', values.batch, 250),
    seed: positive('seed', values.seed, 0, 0),
    ...(only ? { only } : {}),
    ...(values['model-dir'] ? { modelDir: values['model-dir'] } : {}),
    outDir: path.resolve(values.out ?? path.join(root, only ? 'tmp/eval' : 'docs')),
  };
}
