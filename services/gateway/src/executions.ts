/**
 * From a validated request to a call of the pipeline (libs/pipeline does the work) and the manifest entries
 * that reproduce it. Input images are decoded here, before a job exists, so that a bad image is refused at
 * once rather than recorded as a failed job.
 */
import { VERSION } from '@diffusevae/contracts';
import {
  denoise,
  generate,
  interpolate,
  interpolateNoise,
  reconstruct,
  sampleLatents,
  superResolve,
  type PipelineResult,
  type RefineOptions,
  type Stages,
} from '@diffusevae/pipeline';
import { decodeInputImage } from './images.js';
import type { JobManifest } from './jobs.js';
import type { ServedModel } from './model.js';
import { samplerInputOf, type Endpoint, type JobRequest } from './validate.js';

export interface RunHooks {
  onStep: NonNullable<RefineOptions['onStep']>;
  signal: AbortSignal;
  /** the job id: the reverse process checkpoints under it, and a second run of the job resumes from there */
  checkpoint?: string;
}

export interface Execution {
  /** what the job's manifest says before it runs */
  manifest: JobManifest;
  /** runs the pipeline; `extra` joins the manifest (what is known only afterwards, e.g. an estimated σ) */
  run(hooks: RunHooks): Promise<PipelineResult & { extra?: JobManifest }>;
}

/**
 * What every manifest has: the kind, the seed and the first sample (image i of the job is (seed, sample + i), which
 * `images` spells out: each image can be made again alone), the sampler as SamplerInput spells it, the model's
 * files. The input images travel in it (as the PNG of the pixels the model took), so reproduce needs nothing else.
 */
function baseManifest(req: JobRequest, model: ServedModel): JobManifest {
  return {
    kind: req.kind,
    seed: req.seed,
    sample: req.sample,
    count: req.count,
    sampler: samplerInputOf(req.sampler),
    // interpolation holds the noise of one sample along its path
    images: Array.from({ length: req.count }, (_, i) => ({ seed: req.seed, sample: req.kind === 'interpolate' ? req.sample : req.sample + i })),
    model: model.identity,
    platformVersion: VERSION,
  };
}

export async function prepare(stages: Stages, model: ServedModel, req: JobRequest): Promise<Execution> {
  const base = baseManifest(req, model);
  const common = { seed: req.seed, firstSample: req.sample, sampler: req.sampler };
  const r = model.limits.resolution;
  switch (req.kind) {
    case 'generate':
      return {
        manifest: { ...base, latentTemperature: req.latentTemperature, refine: req.refine },
        run: (h) => generate(stages, model.latentDim, { ...common, ...h, count: req.count, latentTemperature: req.latentTemperature, refine: req.refine }),
      };
    case 'superResolve': {
      const low = await decodeInputImage('input.image', req.image, model.limits, req.count, req.scale);
      return {
        manifest: { ...base, scale: req.scale, throughVae: req.throughVae, input: low.png, inputSha256: low.sha256 },
        run: (h) => superResolve(stages, low.tensor, { ...common, ...h, height: r, width: r, throughVae: req.throughVae }),
      };
    }
    case 'denoise': {
      const noisy = await decodeInputImage('input.image', req.image, model.limits, req.count);
      return {
        manifest: { ...base, input: noisy.png, inputSha256: noisy.sha256 },
        run: async (h) => {
          // σ on [0, 1] pixels is 2σ in the model's [−1, 1] range.
          const out = await denoise(stages, noisy.tensor, {
            ...common,
            ...h,
            schedule: model.schedule,
            ...(req.sigma !== undefined ? { sigma: 2 * req.sigma } : {}),
          });
          const extra = {
            sigma: out.sigma / 2,
            sigmaModelRange: out.sigma,
            sigmaEstimated: req.sigma === undefined,
            startTimestep: out.startTimestep,
            stepsRun: Math.min(req.sampler.steps, out.startTimestep + 1),
          };
          return { stage1: out.stage1, images: out.images, extra };
        },
      };
    }
    case 'reconstruct': {
      const x = await decodeInputImage('input.image', req.image, model.limits, req.count);
      return {
        manifest: { ...base, useMean: req.useMean, input: x.png, inputSha256: x.sha256 },
        run: (h) => reconstruct(stages, x.tensor, { ...common, ...h, useMean: req.useMean }),
      };
    }
    case 'interpolate': {
      const from = await endpoint('input.from', req.from, model, req.latentTemperature);
      const to = await endpoint('input.to', req.to, model, req.latentTemperature);
      const described = { ...base, space: req.space, points: req.count, latentTemperature: req.latentTemperature, from: from.describe, to: to.describe };
      if (req.space === 'ddpm-latent' && req.at && req.noiseSeeds) {
        // the ends' x_T are drawn from their seeds as generation draws them (validateInterpolate)
        const at = await endpoint('input.at', req.at, model, req.latentTemperature);
        const seeds = req.noiseSeeds;
        return {
          manifest: { ...described, at: at.describe },
          run: async (h) => interpolateNoise(stages, await at.latent(stages), seeds, { ...common, ...h, points: req.count }),
        };
      }
      return {
        manifest: described,
        run: async (h) => {
          const [z1, z2] = [await from.latent(stages), await to.latent(stages)];
          return interpolate(stages, z1, z2, { ...common, ...h, points: req.count });
        },
      };
    }
    default: {
      const never: never = req;
      throw new Error(`unknown job kind ${JSON.stringify(never)}`);
    }
  }
}

/** An end of the path: z of a seed (as generate draws it), or the encoder's μ of an image. */
async function endpoint(field: string, e: Endpoint, model: ServedModel, latentTemperature: number) {
  if ('seed' in e) {
    const z = sampleLatents(e.seed, 1, model.latentDim, latentTemperature).data;
    return { describe: { seed: e.seed }, latent: async () => z };
  }
  const x = await decodeInputImage(`${field}.image`, e.image, model.limits, 1);
  return { describe: { image: x.png, inputSha256: x.sha256 }, latent: async (stages: Stages) => (await stages.encode(x.tensor)).mu.data };
}
