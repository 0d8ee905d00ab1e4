import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseEvalArgs, UsageError } from '../src/args.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('npm run eval flags', () => {
  it('a full run writes docs/; a partial one (--only) tmp/eval, unless --out says where', () => {
    expect(parseEvalArgs([], '/repo')).toMatchObject({ samples: 5000, ddpmSamples: 200, eta0Samples: 1000, batch: 250, seed: 0, refinerInstances: 1, outDir: path.resolve('/repo/docs') });
    expect(parseEvalArgs(['--table3', '--refiner-instances', '2'], '/repo')).toMatchObject({ refinerInstances: 2 });
    expect(parseEvalArgs(['--only', 'vae, ddim10', '--samples', '1000'], '/repo')).toMatchObject({ only: ['vae', 'ddim10'], samples: 1000, outDir: path.resolve('/repo/tmp/eval') });
    expect(parseEvalArgs(['--only', 'vae', '--out', '/elsewhere'], '/repo')).toMatchObject({ outDir: path.resolve('/elsewhere') });
    expect(parseEvalArgs(['--help'], '/repo')).toBe('help');
    expect(parseEvalArgs(['-h'], '/repo')).toBe('help');
  });

  it('a bad flag or value is a usage error that names it', () => {
    expect(() => parseEvalArgs(['--samples', '0'], '/r')).toThrow(new UsageError('--samples: must be an integer ≥ 1, got "0"'));
    expect(() => parseEvalArgs(['--batch', '2.5'], '/r')).toThrow(/--batch: must be an integer/);
    expect(() => parseEvalArgs(['--refiner-instances', '0'], '/r')).toThrow(new UsageError('--refiner-instances: must be an integer ≥ 1, got "0"'));
    expect(() => parseEvalArgs(['--only', ','], '/r')).toThrow(/--only: give one or more rows/);
    expect(() => parseEvalArgs(['--smaples', '5'], '/r')).toThrow(UsageError);
  });

  it('as a command: --help exits 0 with the usage; a bad flag exits 2 naming it', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'tools/eval/src/main.ts'), ...args], { cwd: ROOT }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: npm run eval --/);
    const bad = await run(['--smaples', '5']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/smaples/);
  });
});
