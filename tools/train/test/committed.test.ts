import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSet } from '@diffusevae/models';
import { goldenRoles, loopParity, networkParity, readGolden, setConditioning, type LoopCase, type NetworksGolden } from './parity.js';

// Every model set in models/ against the golden files the trainer wrote when it exported it: golden/<set folder>
// (`diffusevae export --golden`, or `diffusevae golden` from the checkpoint it was exported from). A set folder
// without goldens fails the first test, naming it; adding its goldens turns its parity tests on.
// PARITY_MODELS_DIR / PARITY_GOLDEN_DIR point the test at other folders (a fresh export under /tmp, say).
const MODELS = path.resolve(process.env['PARITY_MODELS_DIR'] ?? path.resolve(import.meta.dirname, '../../../models'));
const GOLDEN = path.resolve(process.env['PARITY_GOLDEN_DIR'] ?? path.resolve(import.meta.dirname, '../golden'));

const subfolders = (dir: string, file: string) =>
  readdirSync(dir)
    .filter((d) => existsSync(path.join(dir, d, file)))
    .sort();
const hasGolden = (name: string) => ['networks.json', 'loops.json'].every((f) => existsSync(path.join(GOLDEN, name, f)));
const SETS = subfolders(MODELS, 'manifest.json');
const WITH_GOLDEN = SETS.filter(hasGolden);

describe(`model sets in ${MODELS} and their golden files`, () => {
  it('every model set has golden files', () => {
    const missing = SETS.filter((s) => !hasGolden(s));
    expect(missing, `no golden files in ${GOLDEN}/<set> for: ${missing.join(', ')}; write them from the checkpoint each set was ` +
      'exported from (export --golden tools/train/golden/<set>, or train.sh golden --ckpt-dir … --model-dir models/<set> ' +
      '--out tools/train/golden/<set>)').toEqual([]);
    expect(WITH_GOLDEN.length).toBeGreaterThan(0);
  });
});

describe.each(WITH_GOLDEN)('models/%s parity with PyTorch', (name) => {
  const golden = path.join(GOLDEN, name);
  let set: ModelSet;
  beforeAll(async () => {
    set = await ModelSet.load(path.join(MODELS, name));
  });
  afterAll(() => set?.release());

  it('golden files belong to the committed model files', () => {
    expect(readGolden<NetworksGolden>(golden, 'networks.json').sha256).toEqual(set.checksums);
    expect(readGolden<NetworksGolden>(golden, 'loops.json').sha256).toEqual(set.checksums);
  });

  it('a network without goldens of its own is a byte copy of one that has them (a fine-tuned set\'s stage 1 and classifier)', () => {
    const own = goldenRoles(readGolden<NetworksGolden>(golden, 'networks.json'));
    expect(own).toContain('refiner');
    const others = subfolders(GOLDEN, 'networks.json').map((g) => readGolden<NetworksGolden>(path.join(GOLDEN, g), 'networks.json'));
    const uncovered = Object.entries(set.checksums)
      .filter(([role, sha]) => !own.includes(role) && !others.some((g) => goldenRoles(g).includes(role) && g.sha256[role] === sha))
      .map(([role]) => role);
    expect(uncovered, `${name}: no golden in ${GOLDEN} covers these files`).toEqual([]);
  });

  it('every network with goldens matches PyTorch to 1e-4 (max abs difference)', async () => {
    const diffs = await networkParity(set, golden);
    console.log(`${name} networks`, diffs);
    expect(Object.keys(diffs)).toContain('refiner.eps');
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-4);
  });

  it('the TypeScript reverse process over the ONNX refiner matches the trainer\'s loops on fixed noise', async () => {
    const cases = readGolden<{ cases: LoopCase[] }>(golden, 'loops.json').cases;
    const kinds = cases.map((c) => c.settings.kind);
    expect(kinds).toEqual(expect.arrayContaining(['DDPM', 'DDIM']));
    if (set.noiseConditioning === 'continuous') {
      // fed √ᾱ, on an inference schedule (the paper's Linear(1e-6, 0.8) × 10) and on the training one, in its formulation
      expect(cases.every((c) => c.conditioning === 'noiseLevel' && c.settings.formulation === set.manifest.schedule.formulation)).toBe(true);
      expect(cases.filter((c) => c.settings.inferenceSchedule).map((c) => c.settings.kind)).toEqual(expect.arrayContaining(['DDPM', 'DDIM']));
      expect(cases.some((c) => !c.settings.inferenceSchedule)).toBe(true);
    } else {
      expect(cases.map((c) => c.name)).toContain('ddpm1000');
    }
    const diffs = await loopParity(set, golden);
    console.log(`${name} loops`, diffs);
    expect(Object.keys(diffs)).toEqual(cases.map((c) => c.name));
    expect(setConditioning(set)).toBe(cases[0]!.conditioning ?? 'timestep');
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-3);
  });
});
