import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { loopParity, networkParity, readGolden } from './parity.js';

// The served model set against the golden files the trainer wrote when it exported it.
const GOLDEN = path.resolve(import.meta.dirname, '../golden/fmnist');

describe('models/fmnist parity with PyTorch', () => {
  let set: ModelSet;
  beforeAll(async () => {
    set = await ModelSet.load(DEFAULT_MODEL_DIR);
  });
  afterAll(() => set.release());

  it('golden files belong to the committed model files', () => {
    expect(readGolden<{ sha256: Record<string, string> }>(GOLDEN, 'networks.json').sha256).toEqual(set.checksums);
  });

  it('every network matches PyTorch to 1e-4 (max abs difference)', async () => {
    const diffs = await networkParity(set, GOLDEN);
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-4);
  });

  it('full DDPM (1000 steps) and DDIM loops match the trainer on fixed noise', async () => {
    const diffs = await loopParity(set, GOLDEN);
    expect(Object.keys(diffs)).toContain('ddpm1000');
    for (const [k, v] of Object.entries(diffs)) expect(v, k).toBeLessThanOrEqual(1e-3);
  });
});
