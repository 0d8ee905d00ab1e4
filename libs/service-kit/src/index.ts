export { ConfigError, envInt, envOneOf, loadConfig, sessionOptions, type Env, type ServiceConfig } from './config.js';
export { serve, type EndpointHandler, type EndpointRequest, type EndpointSpec, type ServeOptions, type Served } from './serve.js';
export { callService, chunks, replyTensor, serviceFor, type CallOptions } from './client.js';
export { failureOf } from './failure.js';
export { natsEps, natsStages, type NatsStagesOptions } from './stages.js';
export {
  PREVIEW_TENSOR,
  cancelSubject,
  checkProgressSubject,
  decodeProgress,
  natsProgress,
  newProgressSubject,
  type ProgressChannel,
} from './progress.js';
export { firstSampleParam, intParam, paramsObject, requireFloat, requireTensor, seedParam, type TensorSpec } from './validate.js';
export { drainOnSignal, runService, serviceLabel, type Running, type ServiceMain } from './run.js';
