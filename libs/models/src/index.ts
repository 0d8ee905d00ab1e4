export {
  MODEL_ROLES,
  ModelError,
  readManifest,
  sha256File,
  verifyModelFile,
  type ModelErrorCode,
  type ModelFile,
  type ModelManifest,
  type ModelRole,
} from './manifest.js';
export { OnnxModel, type ExecutionProvider, type Feed, type InputSpec, type SessionOptions } from './session.js';
export { DEFAULT_MODEL_DIR, ModelSet } from './model-set.js';
