export { ConfigError, DEFAULT_REFINER_INSTANCES, envInt, envOneOf, loadConfig, natsConnectOptions, sessionOptions, type Env, type NatsAuth, type ServiceConfig } from './config.js';
export { serve, type EndpointHandler, type EndpointRequest, type EndpointSpec, type ServeOptions, type Served } from './serve.js';
export { callService, chunks, replyTensor, serviceFor, type CallOptions } from './client.js';
export { failureOf } from './failure.js';
export { DEFAULT_LIVENESS_MS, DEFAULT_REFINE_ATTEMPTS, epsOver, natsEps, natsStages, type EpsCallOptions, type NatsStagesOptions } from './stages.js';
export { ROUTER_DEFAULTS, planParts, routedEps, type Part, type RoutedEps, type RoutedEpsOptions, type RouterSettings, type RouterStats } from './router.js';
export {
  checkCheckpointKey,
  checkpointFingerprint,
  checkpointKey,
  decodeCheckpoint,
  encodeCheckpoint,
  kvCheckpoints,
  natsTakeovers,
  type CheckpointMeta,
  type CheckpointStore,
  type Takeovers,
} from './checkpoints.js';
export { JETSTREAM_RETRY_MS, openKvBucket, raiseReplicas, replicasError, retryTransient, transientJetStream } from './jetstream.js';
export {
  Handover,
  PREVIEW_TENSOR,
  cancelSubject,
  checkProgressSubject,
  decodeProgress,
  isHeartbeat,
  natsProgress,
  newProgressSubject,
  type ProgressChannel,
} from './progress.js';
export { firstSampleParam, intParam, paramsObject, requireFloat, requireTensor, seedParam, type TensorSpec } from './validate.js';
export { drainOnSignal, processLogger, runService, serviceLabel, type Running, type ServiceMain } from './run.js';
export {
  LOG_LEVELS,
  LogCapture,
  createLogger,
  defaultReplica,
  jobLogger,
  logLevel,
  parseLogLines,
  requestLogger,
  type LogDestination,
  type LogLevel,
  type LogLine,
  type Logger,
  type LoggerOptions,
} from './log.js';
export {
  LATENCY_BUCKETS,
  Metrics,
  SIZE_BUCKETS,
  STEP_BUCKETS,
  gatewayMetrics,
  natsMetrics,
  refinerMetrics,
  requestMetrics,
  schedulerMetrics,
  type MetricsOptions,
  type TickInfo,
} from './metrics.js';
export {
  ServiceProbes,
  advertisedHost,
  sendLiveness,
  sendMetrics,
  sendReadiness,
  startProbeServer,
  watchNats,
  type NatsWatch,
  type ProbeServer,
  type ProbeServerOptions,
  type Unready,
} from './health.js';
export {
  STATE_DIR,
  devKeyFile,
  localNatsFile,
  readDevKey,
  readLocalNats,
  removeLocalNats,
  stateDir,
  writeDevKey,
  writeLocalNats,
  writePrivateFile,
  type LocalNats,
} from './local-state.js';
