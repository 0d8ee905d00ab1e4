import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSet } from '@diffusevae/models';
import { alphaBars, linearBetas, DEFAULT_SCHEDULE, spacedTimesteps, type TimestepSpacing } from '@diffusevae/schedulers';
import { goldenRoles, loopParity, networkParity, readGolden, type NetworksGolden } from './parity.js';

const TRAIN = path.resolve(import.meta.dirname, '../train.sh');

function trainer(args: string[]) {
  // generous: on a machine busy with other work the golden loops alone can take minutes; every call runs torch on one
  // thread (--threads 1), since two OpenMP threads spinning against other busy processes slow to a crawl
  const r = spawnSync('bash', [TRAIN, ...args], { encoding: 'utf8', timeout: 480_000 });
  // a timeout reads as code null: say so (spawnSync's error names it)
  return { code: r.status, out: `${r.stdout}\n${r.stderr}${r.error ? `\n${r.error.message}` : r.signal ? `\nkilled by ${r.signal}` : ''}` };
}

// Keeps the trainer alive in CI: a tiny run of every stage, its export, golden files, and an
// onnxruntime-node load of the result held to PyTorch's numbers.
describe('trainer (tiny run)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-train-'));
  const ckpt = path.join(dir, 'ckpt');
  const models = path.join(dir, 'models');
  const golden = path.join(dir, 'golden');
  const tiny = ['--limit-data', '256', '--threads', '1', '--z-dim', '8', '--vae-width', '8', '--vae-steps', '8', '--clf-width', '8',
    '--feature-dim', '16', '--clf-steps', '8', '--unet-base', '8', '--steps', '6', '--ckpt-every', '3'];
  let set: ModelSet | undefined;

  beforeAll(() => {
    const train = trainer(['train', 'all', '--ckpt-dir', ckpt, ...tiny]);
    expect(train.code, train.out).toBe(0);
    const exp = trainer(['export', '--ckpt-dir', ckpt, '--out', models, '--golden', golden, '--threads', '1']);
    expect(exp.code, exp.out).toBe(0);
  });
  afterAll(async () => {
    await set?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes from its checkpoint instead of starting over', () => {
    const again = trainer(['train', 'refiner', '--ckpt-dir', ckpt, ...tiny.slice(0, -4), '--steps', '9', '--ckpt-every', '3']);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/event=start step=6 steps=9/);
  });

  it('exports ONNX that onnxruntime-node loads and that matches PyTorch to 1e-4', async () => {
    set = await ModelSet.load(models);
    expect(set.manifest.image).toEqual({ resolution: 28, channels: 1, range: [-1, 1] });
    const diffs = await networkParity(set, golden);
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-4);
  });

  it('runs the TypeScript loops to the trainer\'s numbers', async () => {
    set ??= await ModelSet.load(models);
    const diffs = await loopParity(set, golden, (n) => n !== 'ddpm1000');
    // every sampler kind, the multistep solvers (ODE and SDE, Formulation 2) among them
    expect(Object.keys(diffs)).toEqual(expect.arrayContaining(['ddim10_leading', 'dpmpp2m10_trailing', 'dpmpp2m_sde12_trailing_f2']));
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-3);
  });

  it('reads a model set back into PyTorch, every weight, and fine-tunes a continuous-noise refiner from it', async () => {
    // the ONNX files hold the weights: the refiner read back exports to the same initializers, every one (the
    // checkpoint itself may have trained on since), and the noise-level map is exact at the training timesteps
    const check = spawnSync('/usr/bin/python3', ['-c', [
      'import os, sys, tempfile, numpy as np, torch, onnx',
      'from onnx import numpy_helper',
      'from diffusevae.onnx_weights import unet_from_model_set, vae_from_model_set',
      'from diffusevae.export import _export',
      'from diffusevae.train import build_unet, load_vae, schedule_alpha_bars',
      'from diffusevae.models import NoiseLevelTime',
      `u, cfg, _ = unet_from_model_set(${JSON.stringify(models)}, build_unet)`,
      'x = torch.zeros(2, 1, 28, 28); out = os.path.join(tempfile.mkdtemp(), "r.onnx")',
      '_export(u, (x, u.probe_level(2), x), out, ["x_t", "t", "cond"], ["eps"])',
      'inits = lambda f: {i.name: numpy_helper.to_array(i) for i in onnx.load(f).graph.initializer}',
      `a, b = inits(out), inits(os.path.join(${JSON.stringify(models)}, "refiner.onnx"))`,
      'assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), "refiner weights differ"',
      `v, _ = vae_from_model_set(${JSON.stringify(models)})`,
      `w, _ = load_vae(${JSON.stringify(ckpt)})`,
      'assert all(torch.equal(p, q) for p, q in zip(v.state_dict().values(), w.state_dict().values())), "VAE weights differ"',
      'ab = schedule_alpha_bars(cfg); t = np.array([0, 1, 37, 500, 998, 999])',
      'tau = NoiseLevelTime(ab)(torch.tensor(np.sqrt(ab[t]), dtype=torch.float32)).numpy()',
      'assert np.abs(tau - t).max() < 1e-2, tau',
      'print("same weights", len(a))',
    ].join('\n')], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.resolve(import.meta.dirname, '..') }, timeout: 120_000 });
    expect(check.status, `${check.stdout}\n${check.stderr}`).toBe(0);
    expect(check.stdout).toMatch(/same weights \d+/);

    const ckpt2 = path.join(dir, 'ckpt-cont');
    const models2 = path.join(dir, 'models-cont');
    const fine = trainer(['train', 'refiner', '--ckpt-dir', ckpt2, ...tiny.slice(0, -4), '--steps', '3', '--ckpt-every', '3', '--init-from', models, '--noise-conditioning', 'continuous', '--formulation', '2']);
    expect(fine.code, fine.out).toBe(0);
    expect(fine.out).toMatch(/event=start step=0 .*formulation=2 noise_conditioning=continuous init_from=/);
    const golden2 = path.join(dir, 'golden-cont');
    const exp = trainer(['export', '--ckpt-dir', ckpt2, '--out', models2, '--name', 'tiny-cont', '--golden', golden2, '--threads', '1']);
    expect(exp.code, exp.out).toBe(0);
    const base = JSON.parse(readFileSync(path.join(models, 'manifest.json'), 'utf8'));
    const m = JSON.parse(readFileSync(path.join(models2, 'manifest.json'), 'utf8'));
    expect(m.name).toBe('tiny-cont');
    expect(m.schedule).toMatchObject({ formulation: 2, noiseConditioning: 'continuous' });
    expect(m.files.refiner.inputs).toEqual(['x_t', 'noise_level', 'cond']);
    expect(m.refiner.finetunedFrom).toEqual({ name: base.name, sha256: base.files.refiner.sha256, trainedSteps: 6 });
    for (const role of ['encoder', 'decoder', 'classifier']) expect(m.files[role].sha256, role).toBe(base.files[role].sha256);
    expect(m.training.refiner).toMatchObject({ trainedSteps: 3, noise_conditioning: 'continuous', init_from: models });

    // its goldens: the refiner only (the other files are the base's, covered by the base's goldens), fed √ᾱ
    const cont = await ModelSet.load(models2);
    try {
      expect(goldenRoles(readGolden<NetworksGolden>(golden2, 'networks.json'))).toEqual(['refiner']);
      const nets = await networkParity(cont, golden2);
      expect(Object.keys(nets)).toEqual(['refiner.eps']);
      expect(nets['refiner.eps']).toBeLessThanOrEqual(1e-4);
      const loops = await loopParity(cont, golden2);
      expect(Object.keys(loops)).toEqual(expect.arrayContaining(['ddpm10_linear_paper', 'ddim10_linear_paper', 'dpmpp2m_sde10_trailing']));
      for (const [k, v] of Object.entries(loops)) expect(v, k).toBeLessThanOrEqual(1e-3);
    } finally {
      await cont.release();
    }
    // goldens from a checkpoint that trained on after the export would not match its files: refused
    const more = trainer(['train', 'refiner', '--ckpt-dir', ckpt2, ...tiny.slice(0, -4), '--steps', '4', '--ckpt-every', '1', '--init-from', models, '--noise-conditioning', 'continuous', '--formulation', '2']);
    expect(more.code, more.out).toBe(0);
    const stale = trainer(['golden', '--ckpt-dir', ckpt2, '--model-dir', models2, '--out', path.join(dir, 'golden-stale'), '--threads', '1']);
    expect(stale.code).not.toBe(0);
    expect(stale.out).toMatch(/refiner\.onnx was not exported from this checkpoint .*checkpoint has step 4/);
  });

  it('agrees with the TypeScript on ᾱ and on every spacing', () => {
    const g = readGolden<{ alphaBar: number[]; timesteps: Record<string, number[] | null> }>(golden, 'schedule.json');
    expect(Array.from(alphaBars(linearBetas(DEFAULT_SCHEDULE)))).toEqual(g.alphaBar);
    for (const [key, expected] of Object.entries(g.timesteps)) {
      const [spacing, n, maxT] = key.split('/');
      const run = () => spacedTimesteps(1000, Number(n), spacing as TimestepSpacing, Number(maxT));
      if (expected === null) expect(run, key).toThrow(/^steps:/);
      else expect(run(), key).toEqual(expected);
    }
  });

  it('stops on an unknown flag or a bad path with a clear message', () => {
    const flag = trainer(['train', 'vae', '--ckpt-dir', ckpt, '--no-such-flag']);
    expect(flag.code).not.toBe(0);
    expect(flag.out).toMatch(/unrecognized arguments: --no-such-flag/);
    const data = trainer(['train', 'vae', '--ckpt-dir', ckpt, '--data-dir', path.join(dir, 'nowhere')]);
    expect(data.code).not.toBe(0);
    expect(data.out).toMatch(/--data-dir .*nowhere.* is not a directory/);
    const arch = trainer(['train', 'refiner', '--ckpt-dir', ckpt, ...tiny.slice(0, -4), '--unet-base', '16', '--steps', '12']);
    expect(arch.code).not.toBe(0);
    expect(arch.out).toMatch(/checkpoint has base=8 but this run asks for 16/);
  });
});
