export { startNatsServer, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { REPO_ROOT, startService, type ServiceProcess, type ServiceProcessOptions } from './service-process.js';
export { parsePrometheusText, sampleValue, type MetricFamily, type Sample } from './prometheus.js';
