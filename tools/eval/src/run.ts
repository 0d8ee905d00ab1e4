import { ModelSet } from '@diffusevae/models';
import { generate, localStages, type GenerateRequest } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';

export interface SamplePlan {
  key: string;
  label: string;
  samples: number;
  /** null: VAE only (stage 1) */
  sampler: SamplerSettings | null;
}

/**
 * The DDIM rows: η = DEFAULT_SAMPLER.eta, leading spacing (the committed rows' settings); ddim50eta0 is deterministic
 * DDIM. `formulation`: the set's (its manifest's schedule.formulation): every row samples the process its refiner was
 * trained on.
 */
export function standardPlans(samples: number, ddpmSamples: number, eta0Samples: number, formulation: 1 | 2 = 1): SamplePlan[] {
  const base: SamplerSettings = { ...DEFAULT_SAMPLER, formulation };
  const ddim = (steps: number, eta = DEFAULT_SAMPLER.eta): SamplerSettings => ({ ...base, kind: 'DDIM', steps, eta, timestepSpacing: 'leading' });
  const d = DEFAULT_SAMPLER.eta;
  const dpm = (steps: number): SamplerSettings => ({ ...base, kind: 'DPMPP_2M_SDE', steps, timestepSpacing: 'trailing' });
  return [
    { key: 'vae', label: 'VAE only (stage 1)', samples, sampler: null },
    { key: 'ddim10', label: `DiffuseVAE, DDIM 10 steps, η = ${d}`, samples, sampler: ddim(10) },
    { key: 'ddim25', label: `DiffuseVAE, DDIM 25 steps, η = ${d}`, samples, sampler: ddim(25) },
    { key: 'ddim50', label: `DiffuseVAE, DDIM 50 steps, η = ${d}`, samples, sampler: ddim(50) },
    { key: 'ddim50eta0', label: 'DiffuseVAE, DDIM 50 steps, η = 0 (deterministic)', samples: eta0Samples, sampler: ddim(50, 0) },
    // DPM-Solver++(2M): the SDE variant with trailing spacing (the ODE one and leading spacing do worse with this refiner)
    { key: 'dpmpp2msde10', label: 'DiffuseVAE, DPM-Solver++(2M) SDE 10 steps, trailing', samples, sampler: dpm(10) },
    { key: 'dpmpp2msde12', label: 'DiffuseVAE, DPM-Solver++(2M) SDE 12 steps, trailing', samples, sampler: dpm(12) },
    {
      key: 'ddpm1000',
      label: 'DiffuseVAE, DDPM 1000 steps',
      samples: ddpmSamples,
      sampler: { ...base, kind: 'DDPM', steps: 1000, varianceType: 'fixedlarge' },
    },
  ];
}

/**
 * Generates `plan.samples` images in chunks. Sample i always has the noise of (seed, i), so every plan
 * refines the same stage-1 images and the rows of the table differ only in the sampler. A sampler of another
 * formulation than the set's refiner was trained for is refused (the scheduler service refuses it too): its samples
 * would be of a process the refiner never saw.
 */
export async function runPlan(
  models: ModelSet,
  plan: SamplePlan,
  opts: { seed: number; batch: number; log?: (msg: string) => void },
): Promise<{ stage1: Tensor; images: Tensor; seconds: number; imageSteps: number }> {
  const dim = models.manifest.latent.dim;
  const trained = models.manifest.schedule.formulation;
  const formulation = (plan.sampler ?? DEFAULT_SAMPLER).formulation;
  if (plan.sampler !== null && formulation !== trained) {
    throw new Error(`${plan.key}: the sampler is Formulation ${formulation}, but the refiner of ${models.manifest.name} was trained for Formulation ${trained}`);
  }
  const s1: Tensor[] = [];
  const out: Tensor[] = [];
  const t0 = performance.now();
  for (let first = 0; first < plan.samples; first += opts.batch) {
    const count = Math.min(opts.batch, plan.samples - first);
    const req: GenerateRequest = {
      count,
      seed: opts.seed,
      firstSample: first,
      latentTemperature: 1,
      sampler: plan.sampler ?? { ...DEFAULT_SAMPLER, formulation: trained },
      refine: plan.sampler !== null,
    };
    const r = await generate(localStages(models), dim, req);
    s1.push(r.stage1);
    out.push(r.images);
    const done = first + count;
    const sec = (performance.now() - t0) / 1000;
    opts.log?.(`${plan.key}: ${done}/${plan.samples} samples, ${sec.toFixed(0)}s, ETA ${((sec / done) * (plan.samples - done)).toFixed(0)}s`);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { stage1: Tensor.concatBatch(s1), images: Tensor.concatBatch(out), seconds, imageSteps: plan.samples * (plan.sampler?.steps ?? 0) };
}
