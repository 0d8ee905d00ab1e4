export type { EpsFn, RefineOptions, Stage1, Stage2, Stages, StepProgress } from './stages.js';
export { generate, localStages, refineWith, sampleLatents, type GenerateRequest, type PipelineResult } from './generate.js';
export { denoise, estimateNoiseSigma, interpolate, interpolateNoise, posteriorSample, reconstruct, slerpPath, startNoise, superResolve, upsample } from './restore.js';
