/** Command-line flags of `npm run bench`; a bad one stops it with a message that names the flag. */
export interface BenchOptions {
  /** reverse-process steps of every run */
  steps: number;
  /** timed repetitions of each configuration (after one warm-up) */
  reps: number;
  /**
   * a repetition of the raw and end-to-end paths runs as many jobs as fill about this long (at least one),
   * the two paths alternating job by job: a batch-1 job lasts a fraction of a second, shorter than the
   * machine's busy spells, and one job per repetition would let a spell decide a ratio
   */
  minRepMs: number;
  batches: number[];
  /** single-image jobs submitted at once */
  concurrent: number;
  sampler: 'DDIM' | 'DDPM';
  modelDir: string;
  /** (c) the PyTorch loop: false with --no-pytorch */
  pytorch: boolean;
  /** the trainer's checkpoints for it; undefined: the model set's own weights (its ONNX files, loaded into PyTorch) */
  ckptDir: string | undefined;
  /** onnxruntime intra-op threads (0: every core) and PyTorch's threads (every core when 0) */
  threads: number;
  quick: boolean;
  /**
   * the scale-out stage (two refiner replicas against one, each pinned to one CPU): `with` the other stages (the
   * default), `only` it (merged into the existing outputs: the other stages' rows stay), or `skip` (the outputs keep
   * the scale-out results they had)
   */
  scaleOut: 'with' | 'only' | 'skip';
  /** scale-out: single-image jobs submitted at once to each cluster */
  scaleOutJobs: number;
  /** scale-out: the CPUs the refiners are pinned to: the one-refiner cluster's is the first, the two-refiner cluster's both */
  scaleOutCpus: [number, number];
  outMarkdown: string;
  outJson: string;
}

export class ArgError extends Error {
  override name = 'ArgError';
}

export const USAGE = `npm run bench -- [--quick] [--steps N] [--reps N] [--min-rep-ms MS] [--batches 1,16,64] [--concurrent N] [--sampler ddim|ddpm]
                 [--model-dir DIR] [--ckpt-dir DIR | --no-pytorch] [--threads N] [--out-md FILE] [--out-json FILE]
                 [--scale-out-only | --no-scale-out] [--scale-out-jobs N] [--scale-out-cpus A,B]
  --quick       5 steps, 1 rep: about a minute
  --min-rep-ms  each repetition runs the paths' jobs in turn until each path has run about this long (default 6000)
  --scale-out-only  only the scale-out stage (1 refiner pinned to CPU A against 2 pinned to A and B, one onnxruntime
                thread each); its results are merged into the existing --out-md / --out-json, the other rows kept
  --no-scale-out    every stage but that one (the outputs keep the scale-out results they had)
  --scale-out-jobs  single-image jobs at once on each scale-out cluster (default 32)
  --scale-out-cpus  the CPUs the refiners are pinned to (default 0,1)
  --ckpt-dir    the PyTorch loop's weights from the trainer's checkpoints (default $DIFFUSEVAE_CKPT_DIR; without
                either, the model set's: its ONNX weights loaded into the trainer's PyTorch networks)
  MODEL_DIR and ORT_SPINNING are read as the services read them, and apply to every path`;

function positive(flag: string, raw: string | undefined, min = 1, max = 100_000): number {
  const v = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || v < min || v > max) throw new ArgError(`${flag}: must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>, defaults: { modelDir: string }): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    steps: quick ? 5 : 50,
    reps: quick ? 1 : 7,
    minRepMs: quick ? 0 : 6000,
    batches: [1, 16, 64],
    concurrent: 16,
    sampler: 'DDIM',
    modelDir: env.MODEL_DIR || defaults.modelDir,
    pytorch: true,
    ckptDir: env.DIFFUSEVAE_CKPT_DIR || undefined,
    threads: 0,
    quick,
    scaleOut: 'with',
    scaleOutJobs: 32,
    scaleOutCpus: [0, 1],
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
      case '--min-rep-ms':
        o.minRepMs = positive(flag, value(), 0, 600_000);
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
        o.pytorch = false;
        break;
      case '--threads':
        o.threads = positive(flag, value(), 0, 256);
        break;
      case '--scale-out-only':
        if (o.scaleOut === 'skip') throw new ArgError(`${flag}: not with --no-scale-out`);
        o.scaleOut = 'only';
        break;
      case '--no-scale-out':
        if (o.scaleOut === 'only') throw new ArgError(`${flag}: not with --scale-out-only`);
        o.scaleOut = 'skip';
        break;
      case '--scale-out-jobs':
        o.scaleOutJobs = positive(flag, value(), 1, 64);
        break;
      case '--scale-out-cpus': {
        const raw = value();
        const cpus = raw.split(',').map((c) => positive(flag, c.trim(), 0, 1023));
        if (cpus.length !== 2 || cpus[0] === cpus[1]) throw new ArgError(`${flag}: must be two different CPUs, e.g. 0,1, got ${JSON.stringify(raw)}`);
        o.scaleOutCpus = [cpus[0]!, cpus[1]!];
        break;
      }
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
