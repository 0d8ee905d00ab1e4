/** Command-line flags of `npm run bench`; a bad one stops it with a message that names the flag. */
export interface BenchOptions {
  /** reverse-process steps of every run */
  steps: number;
  /** timed runs of each configuration (after one warm-up) */
  reps: number;
  batches: number[];
  /** single-image jobs submitted at once */
  concurrent: number;
  sampler: 'DDIM' | 'DDPM';
  modelDir: string;
  /** the trainer's checkpoints, for the PyTorch loop; undefined: skip it */
  ckptDir: string | undefined;
  /** onnxruntime intra-op threads (0: every core) and PyTorch's threads (every core when 0) */
  threads: number;
  quick: boolean;
  outMarkdown: string;
  outJson: string;
}

export class ArgError extends Error {
  override name = 'ArgError';
}

export const USAGE = `npm run bench -- [--quick] [--steps N] [--reps N] [--batches 1,16,64] [--concurrent N] [--sampler ddim|ddpm]
                 [--model-dir DIR] [--ckpt-dir DIR | --no-pytorch] [--threads N] [--out-md FILE] [--out-json FILE]
  --quick       5 steps, 1 rep: about a minute
  --ckpt-dir    the trainer's checkpoints for the PyTorch loop (default $DIFFUSEVAE_CKPT_DIR, then tools/train/.checkpoints)
  MODEL_DIR and ORT_SPINNING are read as the services read them, and apply to every path`;

function positive(flag: string, raw: string | undefined, min = 1, max = 100_000): number {
  const v = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || v < min || v > max) throw new ArgError(`${flag}: must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>, defaults: { modelDir: string; ckptDir: string }): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    steps: quick ? 5 : 50,
    reps: quick ? 1 : 5,
    batches: [1, 16, 64],
    concurrent: 16,
    sampler: 'DDIM',
    modelDir: env.MODEL_DIR || defaults.modelDir,
    ckptDir: env.DIFFUSEVAE_CKPT_DIR || defaults.ckptDir,
    threads: 0,
    quick,
    outMarkdown: 'docs/benchmarks.md',
    outJson: 'docs/results/bench.json',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new ArgError(`${flag}: needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--steps':
        o.steps = positive(flag, value(), 1, 1000);
        break;
      case '--reps':
        o.reps = positive(flag, value(), 1, 1000);
        break;
      case '--batches':
        o.batches = value()
          .split(',')
          .map((b) => positive(flag, b.trim(), 1, 64));
        break;
      case '--concurrent':
        o.concurrent = positive(flag, value(), 1, 256);
        break;
      case '--sampler': {
        const s = value().toUpperCase();
        if (s !== 'DDIM' && s !== 'DDPM') throw new ArgError(`${flag}: must be ddim or ddpm, got ${JSON.stringify(s)}`);
        o.sampler = s;
        break;
      }
      case '--model-dir':
        o.modelDir = value();
        break;
      case '--ckpt-dir':
        o.ckptDir = value();
        break;
      case '--no-pytorch':
        o.ckptDir = undefined;
        break;
      case '--threads':
        o.threads = positive(flag, value(), 0, 256);
        break;
      case '--out-md':
        o.outMarkdown = value();
        break;
      case '--out-json':
        o.outJson = value();
        break;
      default:
        throw new ArgError(`unknown flag ${JSON.stringify(flag)}\n${USAGE}`);
    }
  }
  return o;
}
