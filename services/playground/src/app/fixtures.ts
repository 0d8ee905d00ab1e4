/** Test fixtures (imported by *.test.ts only): the model as the gateway reports it today. */
import type { ModelInfo } from './types';

const basics = { name: 'fmnist', default: true, dataset: 'fashion-mnist', resolution: 28, channels: 1, latentDim: 32, numTrainTimesteps: 1000 };

export const full: ModelInfo = {
  ...basics,
  limits: {
    maxCount: 64,
    maxPoints: 64,
    maxSteps: 1000,
    maxImageSteps: 16384,
    maxSeed: 2147483647,
    inputSizes: [
      { kind: 'RECONSTRUCT', scale: null, width: 28, height: 28 },
      { kind: 'DENOISE', scale: null, width: 28, height: 28 },
      { kind: 'SUPER_RESOLVE', scale: 2, width: 14, height: 14 },
      { kind: 'SUPER_RESOLVE', scale: 4, width: 7, height: 7 },
    ],
  },
  samplers: ['DDPM', 'DDIM', 'DPMPP_2M', 'DPMPP_2M_SDE'],
  inferenceSchedules: [],
  timestepSpacings: ['LEADING', 'TRAILING', 'LINSPACE', 'QUAD'],
  varianceTypes: ['FIXEDLARGE', 'FIXEDSMALL'],
  scales: [2, 4],
  defaults: {
    count: 1,
    points: 8,
    latentTemperature: 1,
    scale: 4,
    sampler: { kind: 'DDIM', steps: 50, eta: 1, temperature: 1, timestepSpacing: 'LEADING', varianceType: 'FIXEDLARGE', clipSample: true },
  },
};

/** A set conditioned on the noise level: it takes every inference schedule. */
export const continuous: ModelInfo = { ...full, name: 'fmnist-cont', default: false, inferenceSchedules: ['LINEAR', 'LOG_SNR', 'KARRAS'] };
