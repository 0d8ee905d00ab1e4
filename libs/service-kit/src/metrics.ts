/**
 * Prometheus metrics (prom-client). One registry per process (`Metrics`), with the Node.js defaults
 * (`process_*`, `nodejs_*`), and every metric the platform exports defined below, so that names, units, labels
 * and buckets live in one place. The names follow the Prometheus conventions: the `diffusevae_` prefix, base
 * units (`_seconds`), `_total` for counters, no unit for plain counts (batch sizes, jobs).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  /** collect the Node.js default metrics (default true; false for registries of servers built inside tests) */
  defaults?: boolean;
  /** labels on every sample of this registry, e.g. { service: 'refiner' } */
  labels?: Record<string, string>;
}

type Collect = () => void | Promise<void>;

/**
 * A process's registry. Asking for a metric that exists already returns it (same name, same labels), so a module
 * may define its metrics as often as it is set up.
 */
export class Metrics {
  readonly registry = new Registry();
  /** where this registry is served (`http://host:port/metrics`), once it is: serve() puts it in $SRV.INFO */
  url: string | undefined;

  constructor(opts: MetricsOptions = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaults ?? true) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.existing<Counter<L>>(name) ?? new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect?: (gauge: Gauge<L>) => void | Promise<void>): Gauge<L> {
    const existing = this.existing<Gauge<L>>(name);
    if (existing) return existing;
    const gauge: Gauge<L> = new Gauge<L>({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect: (() => collect(gauge)) as Collect } : {}) });
    return gauge;
  }

  histogram<L extends string = never>(name: string, help: string, buckets: readonly number[], labelNames: readonly L[] = []): Histogram<L> {
    return this.existing<Histogram<L>>(name) ?? new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /** The Prometheus text exposition of every metric, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private existing<M>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
}

/** Seconds, for request and job latencies: 1 ms (an encode) to 10 min (a 1000-step refine of a big batch). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;
/** Seconds, for one onnxruntime run or one scheduler tick: 0.5 ms to 10 s. */
export const STEP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Counts (samples in a batch, jobs in a tick): powers of two up to 4096. */
export const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096] as const;

const seconds = (ms: number) => ms / 1000;

/** serve(): every request of a service's endpoints, measured from its arrival to its reply. */
export function requestMetrics(m: Metrics) {
  return {
    requests: m.counter('diffusevae_requests_total', 'Requests handled by this replica, by endpoint and outcome (ok, or the error code it was answered with).', ['endpoint', 'outcome']),
    duration: m.histogram('diffusevae_request_duration_seconds', 'Time from a request’s arrival to its reply (the handler’s whole async work), by endpoint.', LATENCY_BUCKETS, ['endpoint']),
    inFlight: m.gauge('diffusevae_requests_in_flight', 'Requests being handled by this replica now, by endpoint.', ['endpoint']),
  };
}

/** Every process's NATS connection, from nc.status(). */
export function natsMetrics(m: Metrics) {
  return {
    reconnects: m.counter('diffusevae_nats_reconnects_total', 'Times this process reconnected to a NATS server.'),
    disconnects: m.counter('diffusevae_nats_disconnects_total', 'Times this process lost its NATS connection.'),
    connected: m.gauge('diffusevae_nats_connected', '1 while this process is connected to NATS, 0 while it reconnects.'),
  };
}

/** The refiner's batcher: what one onnxruntime run carries and how long it takes. */
export function refinerMetrics(m: Metrics) {
  return {
    batchSize: m.histogram('diffusevae_refiner_batch_size', 'Samples (items) merged into one onnxruntime run.', SIZE_BUCKETS),
    batchRequests: m.histogram('diffusevae_refiner_batch_requests', 'Requests merged into one onnxruntime run.', SIZE_BUCKETS),
    runDuration: m.histogram('diffusevae_refiner_onnxruntime_run_duration_seconds', 'Time of one ε_θ onnxruntime run (the whole merged batch).', STEP_BUCKETS),
    failedRuns: m.counter('diffusevae_refiner_failed_runs_total', 'onnxruntime runs that failed (every request of the batch failed with it).'),
  };
}

/** What the scheduler's continuous batcher reports after each tick. */
export interface TickInfo {
  /** the whole tick: the refiner calls and advancing every job */
  ms: number;
  samples: number;
  jobs: number;
  /** false: the refiner calls failed, and every job of the tick with them */
  ok: boolean;
}

/** The scheduler's continuous batcher: one tick advances every job in flight by one step. */
export function schedulerMetrics(m: Metrics, state?: () => { active: number; queued: number }) {
  const tickDuration = m.histogram('diffusevae_scheduler_tick_duration_seconds', 'Time of one tick of the continuous batcher (its refiner calls and advancing every job).', STEP_BUCKETS);
  const tickSamples = m.histogram('diffusevae_scheduler_tick_samples', 'Samples advanced by one tick (one ε_θ evaluation each).', SIZE_BUCKETS);
  const tickJobs = m.histogram('diffusevae_scheduler_tick_jobs', 'Jobs (refine requests) advanced together by one tick.', SIZE_BUCKETS);
  const imageSteps = m.counter('diffusevae_scheduler_image_steps_total', 'Image-steps evaluated (samples × steps), summed over ticks.');
  const failedTicks = m.counter('diffusevae_scheduler_failed_ticks_total', 'Ticks whose refiner calls failed (after EPS_ATTEMPTS tries).');
  const epsRetries = m.counter('diffusevae_scheduler_eps_retries_total', 'Refiner calls tried again after a transient failure.');
  if (state) {
    m.gauge('diffusevae_scheduler_active_jobs', 'Jobs in the active set (advanced at every tick).', [], (g) => g.set(state().active));
    m.gauge('diffusevae_scheduler_queued_jobs', 'Jobs waiting for room in the active set (SCHEDULER_MAX_QUEUE bounds them).', [], (g) => g.set(state().queued));
  }
  return {
    epsRetries,
    tick(t: TickInfo): void {
      tickDuration.observe(seconds(t.ms));
      if (!t.ok) return void failedTicks.inc();
      tickSamples.observe(t.samples);
      tickJobs.observe(t.jobs);
      imageSteps.inc(t.samples);
    },
  };
}

/** The gateway: jobs, the work queue and GraphQL operations. `queueDepth` and `running` are read at scrape time. */
export function gatewayMetrics(m: Metrics, sources: { queueDepth?: () => Promise<number>; running?: () => number } = {}) {
  const { queueDepth, running } = sources;
  if (queueDepth) m.gauge('diffusevae_queue_depth', 'Jobs in the work queue that no runner has taken yet (all replicas).', [], async (g) => g.set(await queueDepth()));
  if (running) m.gauge('diffusevae_jobs_running', 'Jobs this replica’s runner is running now.', [], (g) => g.set(running()));
  return {
    jobs: m.counter('diffusevae_jobs_total', 'Jobs finished (final state stored) by this replica, by kind and status (SUCCEEDED or FAILED).', ['kind', 'status']),
    jobDuration: m.histogram('diffusevae_job_duration_seconds', 'Time from a job’s submission to its final state, queueing and retries included.', LATENCY_BUCKETS, ['kind', 'status']),
    imageSteps: m.counter('diffusevae_job_image_steps_total', 'Image-steps (count × steps) of the jobs that succeeded here, by kind.', ['kind']),
    operations: m.counter('diffusevae_graphql_operations_total', 'GraphQL operations over HTTP, by operation name, type and outcome (ok, or the first error’s code).', ['operation', 'type', 'outcome']),
    operationDuration: m.histogram('diffusevae_graphql_operation_duration_seconds', 'Time Apollo took for one GraphQL operation over HTTP (a mutation that waits includes its job).', LATENCY_BUCKETS, ['operation', 'type']),
  };
}
