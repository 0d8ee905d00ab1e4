export type { Stages } from './stages.js';
export { generate, refine, sampleLatents, type GenerateRequest, type PipelineResult, type StepProgress } from './generate.js';
