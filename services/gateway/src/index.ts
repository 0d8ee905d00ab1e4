export { createGateway, GRAPHQL_PATH, type Gateway, type GatewayOptions } from './server.js';
export { loadGatewayConfig, type GatewayConfig } from './config.js';
export { natsHealth } from './health.js';
export { InMemoryJobStore, isFinished, type Job, type JobKind, type JobStore, type JobStatus, type StepInfo } from './jobs.js';
export { KvJobStore, localJobBus, natsJobBus, type JobBus, type KvJobStoreOptions } from './kv-store.js';
export { JetStreamWorkQueue, MemoryWorkQueue, type Delivery, type WorkItem, type WorkQueue } from './work-queue.js';
export { DEFAULT_LIMITS, retryDelayMs, type RunnerLimits } from './runner.js';
export { consoleLogger, quietLogger, type Logger } from './log.js';
export type { HealthProbe, ServiceHealth } from './resolvers.js';
