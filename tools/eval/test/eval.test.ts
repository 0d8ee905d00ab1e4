import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLER } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import { markdown, type EvalResult } from '../src/report.js';
import { boxDownsample } from '../src/restoration.js';
import { standardPlans } from '../src/run.js';

describe('eval', () => {
  it('box-downsamples by averaging f×f blocks', () => {
    const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]);
    expect(Array.from(boxDownsample(x, 2).data)).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(boxDownsample(x, 4).shape).toEqual([1, 1, 1, 1]);
  });

  it('plans the rows the issue asks for, DDPM and deterministic DDIM with their own sample counts', () => {
    const plans = standardPlans(5000, 200, 1000);
    expect(plans.map((p) => p.key)).toEqual(['vae', 'ddim10', 'ddim25', 'ddim50', 'ddim50eta0', 'dpmpp2msde10', 'dpmpp2msde12', 'ddpm1000']);
    expect(plans.find((p) => p.key === 'dpmpp2msde10')!.sampler).toMatchObject({ kind: 'DPMPP_2M_SDE', steps: 10, timestepSpacing: 'trailing' });
    expect(plans.find((p) => p.key === 'ddpm1000')!.samples).toBe(200);
    expect(plans.find((p) => p.key === 'ddim50')!.sampler).toMatchObject({ kind: 'DDIM', steps: 50, eta: DEFAULT_SAMPLER.eta });
    expect(plans.find((p) => p.key === 'ddim50eta0')).toMatchObject({ samples: 1000, sampler: { kind: 'DDIM', steps: 50, eta: 0 } });
    expect(plans.find((p) => p.key === 'vae')!.sampler).toBeNull();
    // every refined row on the set's formulation
    expect(plans.filter((p) => p.sampler).every((p) => p.sampler!.formulation === 1)).toBe(true);
    expect(standardPlans(10, 10, 10, 2).filter((p) => p.sampler).every((p) => p.sampler!.formulation === 2)).toBe(true);
  });

  it('writes the ratio to VAE-only for refined rows only', () => {
    const r: EvalResult = {
      samples: 10,
      fid: { floor: 1, vae: 80, ddim50: 20 },
      rows: [
        { key: 'floor', label: 'floor', samples: 10, fid: 1 },
        { key: 'vae', label: 'vae', samples: 10, fid: 80 },
        { key: 'ddim50', label: 'ddim50', samples: 10, fid: 20 },
      ],
      restoration: [],
      model: { name: 'm', sha256: {}, refinerTrainedSteps: 1, classifierTestAccuracy: 0.9 },
      command: 'npm run eval',
      date: '2026-01-01',
    };
    const md = markdown(r, 'samples.png');
    expect(md).toContain('| ddim50 | 10 | 20.00 | 0.250 |');
    expect(md).toContain('| floor | 10 | 1.00 |  |');
  });
});
