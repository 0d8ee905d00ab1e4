import { describe, expect, it } from 'vitest';
import { DEFAULT_URL, mutationInput, parseCommand, UsageError } from '../src/args.js';

describe('parseCommand', () => {
  it('generate with every option', () => {
    expect(parseCommand(['generate', '--count', '4', '--seed', '42', '--steps', '25', '--sampler', 'ddpm', '--out', 'x.png', '--json'])).toEqual({
      kind: 'generate',
      url: DEFAULT_URL,
      json: true,
      out: 'x.png',
      count: 4,
      seed: 42,
      steps: 25,
      sampler: 'DDPM',
    });
    expect(parseCommand(['generate', '--out-dir', 'd', '--url', 'http://127.0.0.1:9/graphql', '--key', 'dvae_x'])).toEqual({
      kind: 'generate',
      url: 'http://127.0.0.1:9/graphql',
      key: 'dvae_x',
      json: false,
      outDir: 'd',
    });
  });
  it('the commands that take an image', () => {
    expect(parseCommand(['super-resolve', '--scale', '2', 'in.png', '--out', 'o.png'])).toMatchObject({ kind: 'super-resolve', input: 'in.png', scale: 2, out: 'o.png' });
    expect(parseCommand(['denoise', 'in.png', '--sigma', '0.1', '--out', 'o.png'])).toMatchObject({ kind: 'denoise', input: 'in.png', sigma: 0.1 });
    expect(parseCommand(['reconstruct', 'in.png', '--out', 'o.png'])).toMatchObject({ kind: 'reconstruct', input: 'in.png' });
  });
  it('help at the top and on every command', () => {
    expect(parseCommand([])).toEqual({ kind: 'help' });
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    for (const c of ['generate', 'super-resolve', 'denoise', 'reconstruct']) expect(parseCommand([c, '--help'])).toEqual({ kind: 'help', command: c });
  });
  it('refuses what it cannot do, naming the flag', () => {
    const bad: [string[], RegExp][] = [
      [['generate', '--bogus', '--out', 'x.png'], /Unknown option '--bogus'/],
      [['generate', '--count', 'two', '--out', 'x.png'], /--count: must be a whole number ≥ 1, got "two"/],
      [['generate', '--count', '0', '--out', 'x.png'], /--count: must be a whole number ≥ 1/],
      [['generate', '--steps', '1.5', '--out', 'x.png'], /--steps: must be a whole number/],
      [['generate', '--sampler', 'euler', '--out', 'x.png'], /--sampler: ddim, ddpm, dpmpp2m, dpmpp2m-sde, got "euler"/],
      [['generate'], /--out FILE.png or --out-dir DIR is required/],
      [['generate', '--out', 'a.png', '--out-dir', 'd'], /--out and --out-dir: give one/],
      [['generate', 'in.png', '--out', 'x.png'], /generate takes no input image/],
      [['generate', '--scale', '2', '--out', 'x.png'], /--scale: only for super-resolve/],
      [['super-resolve', 'in.png', '--scale', '3', '--out', 'x.png'], /--scale: 2 or 4, got "3"/],
      [['super-resolve', '--out', 'x.png'], /give one input image/],
      [['denoise', 'in.png', '--sigma', 'lots', '--out', 'x.png'], /--sigma: a number, got "lots"/],
      [['generate', '--url', 'localhost:4000', '--out', 'x.png'], /--url: an http/],
      [['paint'], /unknown command "paint"/],
    ];
    for (const [argv, message] of bad) expect(() => parseCommand(argv), argv.join(' ')).toThrow(message);
    expect(() => parseCommand(['generate', '--bogus'])).toThrow(UsageError);
  });
});

describe('mutationInput', () => {
  it('always wait: false; only the options given', () => {
    expect(mutationInput(parseCommand(['generate', '--out', 'x.png']) as never)).toEqual({ wait: false });
    expect(mutationInput(parseCommand(['generate', '--count', '2', '--seed', '0', '--steps', '5', '--sampler', 'ddim', '--out', 'x.png']) as never)).toEqual({
      wait: false,
      count: 2,
      seed: 0,
      sampler: { kind: 'DDIM', steps: 5 },
    });
    expect(mutationInput(parseCommand(['super-resolve', 'a.png', '--scale', '2', '--out', 'x.png']) as never, 'AAA')).toEqual({ wait: false, image: 'AAA', scale: 2 });
    expect(mutationInput(parseCommand(['denoise', 'a.png', '--sigma', '0.2', '--out', 'x.png']) as never, 'AAA')).toEqual({ wait: false, image: 'AAA', sigma: 0.2 });
  });
});
