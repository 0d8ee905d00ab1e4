export { startNatsCluster, type NatsCluster, type NatsClusterOptions, type NatsNode } from './nats-cluster.js';
export { startNatsServer, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { READY_LINE, REPO_ROOT, startService, type ServiceProcess, type ServiceProcessOptions } from './service-process.js';
export { parsePrometheusText, sampleValue, type MetricFamily, type Sample } from './prometheus.js';
