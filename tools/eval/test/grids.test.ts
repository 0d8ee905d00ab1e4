import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { gridFile, gridRow, interpolationGrid } from '../src/grids.js';

describe('interpolation grids', () => {
  it('a row of the VAE latent moves z between two seeds; one of the DDPM latent holds z and moves the noise', () => {
    expect(gridRow('vae-latent', 0)).toEqual({ zSeeds: [1, 2] });
    expect(gridRow('ddpm-latent', 1)).toEqual({ zSeeds: [3, 3], noiseSeeds: [102, 103] });
    expect(() => gridRow('vae-latent', -1)).toThrow(/row must be a non-negative integer/);
    expect(gridFile('fmnist', 'ddpm-latent')).toBe('interpolation-fmnist-ddpm-latent.png');
  });

  it('draws a PNG of stage-1 and refined images for both kinds', async () => {
    const models = await ModelSet.load(DEFAULT_MODEL_DIR, ['decoder', 'refiner'], { intraOpThreads: 1 });
    try {
      for (const kind of ['vae-latent', 'ddpm-latent'] as const) {
        const png = await interpolationGrid(models, kind, 2, 3);
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        // two panels of 3 × 2 images of 28 px with 2 px pads, 8 px apart: (3·30 + 2) · 2 + 8 wide
        expect(png.readUInt32BE(16)).toBe(2 * (3 * 30 + 2) + 8);
      }
    } finally {
      await models.release();
    }
  });
});
