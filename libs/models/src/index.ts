export {
  MODEL_ROLES,
  ModelError,
  NOISE_CONDITIONINGS,
  noiseConditioning,
  PRECISIONS,
  modelFileEntry,
  readManifest,
  readManifests,
  sha256File,
  verifyModelFile,
  type ModelErrorCode,
  type ModelFile,
  type ModelManifest,
  type ModelRole,
  type NoiseConditioning,
  type Precision,
  type QuantizedModelFile,
} from './manifest.js';
export { MIN_ROWS_PER_INSTANCE, splitBatch } from './instances.js';
export { OnnxModel, type ExecutionProvider, type Feed, type InputSpec, type SessionOptions } from './session.js';
export { DEFAULT_MODEL_DIR, LEVEL_INPUT, ModelSet, type LoadOptions } from './model-set.js';
