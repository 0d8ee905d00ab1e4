/**
 * The commands of `npm run diffusevae`, parsed (pure: main.ts reads files and talks to the gateway).
 *
 *   generate [--count N] [--seed S] [--steps N] [--sampler ddim|ddpm|dpmpp2m|dpmpp2m-sde] (--out FILE.png | --out-dir DIR)
 *   super-resolve IN.png [--scale 2|4] …
 *   denoise IN.png [--sigma X] …
 *   reconstruct IN.png …
 */
import { parseArgs } from 'node:util';

export const DEFAULT_URL = 'http://localhost:4000/graphql';

export const COMMANDS = ['generate', 'super-resolve', 'denoise', 'reconstruct'] as const;
export type CommandName = (typeof COMMANDS)[number];

const COMMON = `common options:
  --count N              images to draw, 1..64 (default 1); several go to one grid PNG with --out
  --seed S               0..2147483647 (default: random; the job's manifest says which)
  --steps N              refiner steps (default: the API's, 10; the API checks the range)
  --sampler KIND         the refiner's reverse process: dpmpp2m-sde (the API's default), dpmpp2m, ddim, ddpm
  --out FILE.png         the image, or a grid of all of them
  --out-dir DIR          one file per image: DIR/image-000.png, …
  --url URL              the gateway (default ${DEFAULT_URL})
  --key KEY              the API key (default $DIFFUSEVAE_KEY, else the development key of \`npm start\`)
  --json                 print the finished job as JSON on stdout (the files written instead of the PNG bytes)
  --help                 this text`;

export const USAGE = `usage: npm run diffusevae -- <command> [options]

commands:
  generate                      new images: z ~ N(0, I) → vae-decoder → refiner
  super-resolve IN.png          ×2 or ×4 (--scale 2|4, default 4; IN.png is 14×14 or 7×7 for a 28×28 model)
  denoise IN.png                the refiner on its own (--sigma X: the noise σ on [0, 1]; estimated when omitted)
  reconstruct IN.png            encoder → vae-decoder → refiner

${COMMON}

Progress goes to stderr (a bar on a terminal); Ctrl-C cancels the job. Exit codes: 0 done, 2 usage, 3 input refused
by the API, 4 no or a bad API key, 5 the job failed or the service is unavailable or busy, 1 anything else, 130
cancelled.`;

const COMMAND_USAGE: Record<CommandName, string> = {
  generate: 'usage: npm run diffusevae -- generate [--count N] [--seed S] [--steps N] [--sampler ddim|ddpm|dpmpp2m|dpmpp2m-sde] (--out FILE.png | --out-dir DIR)',
  'super-resolve': 'usage: npm run diffusevae -- super-resolve IN.png [--scale 2|4] (--out OUT.png | --out-dir DIR)\n  IN.png × scale is the model\'s size (7×7 for ×4, 14×14 for ×2 at 28×28)',
  denoise: 'usage: npm run diffusevae -- denoise IN.png [--sigma X] (--out OUT.png | --out-dir DIR)\n  --sigma X              noise σ on [0, 1] pixels (default: estimated from the image)',
  reconstruct: 'usage: npm run diffusevae -- reconstruct IN.png (--out OUT.png | --out-dir DIR)',
};

export function commandUsage(name: CommandName): string {
  return `${COMMAND_USAGE[name]}\n\n${COMMON}`;
}

export interface Options {
  url: string;
  /** undefined: main.ts falls back to $DIFFUSEVAE_KEY, then the dev key */
  key?: string;
  json: boolean;
  out?: string;
  outDir?: string;
  count?: number;
  seed?: number;
  steps?: number;
  sampler?: 'DDIM' | 'DDPM' | 'DPMPP_2M' | 'DPMPP_2M_SDE';
}

export type Command =
  | { kind: 'help'; command?: CommandName }
  | ({ kind: 'generate' } & Options)
  | ({ kind: 'super-resolve'; input: string; scale?: 2 | 4 } & Options)
  | ({ kind: 'denoise'; input: string; sigma?: number } & Options)
  | ({ kind: 'reconstruct'; input: string } & Options);

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

function int(option: string, raw: string | undefined, min: number, cmd: CommandName): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new UsageError(`--${option}: must be a whole number ≥ ${min}, got ${JSON.stringify(raw)}`, cmd);
  return Number(raw);
}

export function parseCommand(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') return { kind: 'help' };
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}: ${COMMANDS.join(', ')}`);
  }
  const cmd = command as CommandName;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        count: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        sampler: { type: 'string' },
        scale: { type: 'string' },
        sigma: { type: 'string' },
        out: { type: 'string', short: 'o' },
        'out-dir': { type: 'string' },
        url: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // node's messages name the option: "Unknown option '--bogus'", "Option '--out <value>' argument missing"
    throw new UsageError((e as Error).message, cmd);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { kind: 'help', command: cmd };

  if (v.scale !== undefined && cmd !== 'super-resolve') throw new UsageError(`--scale: only for super-resolve`, cmd);
  if (v.sigma !== undefined && cmd !== 'denoise') throw new UsageError(`--sigma: only for denoise`, cmd);
  if (v.out !== undefined && v['out-dir'] !== undefined) throw new UsageError('--out and --out-dir: give one of them', cmd);
  if (v.out === undefined && v['out-dir'] === undefined) throw new UsageError('--out FILE.png or --out-dir DIR is required', cmd);
  let sampler: Options['sampler'];
  if (v.sampler !== undefined) {
    const kinds = { ddim: 'DDIM', ddpm: 'DDPM', dpmpp2m: 'DPMPP_2M', 'dpmpp2m-sde': 'DPMPP_2M_SDE' } as const;
    sampler = kinds[v.sampler.toLowerCase() as keyof typeof kinds];
    if (!sampler) throw new UsageError(`--sampler: ${Object.keys(kinds).join(', ')}, got ${JSON.stringify(v.sampler)}`, cmd);
  }
  if (v.url !== undefined && !/^https?:\/\/\S+$/.test(v.url)) throw new UsageError(`--url: an http:// or https:// URL, got ${JSON.stringify(v.url)}`, cmd);
  if (v.key !== undefined && !v.key.trim()) throw new UsageError('--key: empty', cmd);

  const opts: Options = { url: v.url ?? DEFAULT_URL, json: v.json ?? false };
  if (v.key !== undefined) opts.key = v.key.trim();
  if (v.out !== undefined) opts.out = v.out;
  if (v['out-dir'] !== undefined) opts.outDir = v['out-dir'];
  const count = int('count', v.count, 1, cmd);
  const seed = int('seed', v.seed, 0, cmd);
  const steps = int('steps', v.steps, 1, cmd);
  if (count !== undefined) opts.count = count;
  if (seed !== undefined) opts.seed = seed;
  if (steps !== undefined) opts.steps = steps;
  if (sampler) opts.sampler = sampler;

  if (cmd === 'generate') {
    if (positionals.length) throw new UsageError(`generate takes no input image, got ${JSON.stringify(positionals[0])}`, cmd);
    return { kind: 'generate', ...opts };
  }
  if (positionals.length !== 1) throw new UsageError(`${cmd}: give one input image (IN.png)${positionals.length ? `, got ${positionals.length}` : ''}`, cmd);
  const input = positionals[0]!;
  switch (cmd) {
    case 'super-resolve': {
      if (v.scale !== undefined && v.scale !== '2' && v.scale !== '4') throw new UsageError(`--scale: 2 or 4, got ${JSON.stringify(v.scale)}`, cmd);
      return { kind: 'super-resolve', input, ...opts, ...(v.scale !== undefined ? { scale: Number(v.scale) as 2 | 4 } : {}) };
    }
    case 'denoise': {
      let sigma: number | undefined;
      if (v.sigma !== undefined) {
        sigma = Number(v.sigma);
        if (!v.sigma.trim() || !Number.isFinite(sigma)) throw new UsageError(`--sigma: a number, got ${JSON.stringify(v.sigma)}`, cmd);
      }
      return { kind: 'denoise', input, ...opts, ...(sigma !== undefined ? { sigma } : {}) };
    }
    case 'reconstruct':
      return { kind: 'reconstruct', input, ...opts };
  }
}

/** The GraphQL mutation field and input type of a command. */
export const MUTATIONS: Record<CommandName, { field: string; input: string }> = {
  generate: { field: 'generate', input: 'GenerateInput' },
  'super-resolve': { field: 'superResolve', input: 'SuperResolveInput' },
  denoise: { field: 'denoise', input: 'DenoiseInput' },
  reconstruct: { field: 'reconstruct', input: 'ReconstructInput' },
};

/** The mutation's input (always `wait: false`); `image` is the input file's base64, for the commands that take one. */
export function mutationInput(cmd: Exclude<Command, { kind: 'help' }>, image?: string): Record<string, unknown> {
  const input: Record<string, unknown> = { wait: false };
  if (cmd.kind !== 'generate') input['image'] = image;
  if (cmd.count !== undefined) input['count'] = cmd.count;
  if (cmd.seed !== undefined) input['seed'] = cmd.seed;
  const sampler: Record<string, unknown> = {};
  if (cmd.sampler) sampler['kind'] = cmd.sampler;
  if (cmd.steps !== undefined) sampler['steps'] = cmd.steps;
  if (Object.keys(sampler).length) input['sampler'] = sampler;
  if (cmd.kind === 'super-resolve' && cmd.scale !== undefined) input['scale'] = cmd.scale;
  if (cmd.kind === 'denoise' && cmd.sigma !== undefined) input['sigma'] = cmd.sigma;
  return input;
}
