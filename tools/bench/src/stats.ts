/** What one configuration measured: throughput over the timed runs, latency of each request. */
export interface Measurement {
  /** images finished per second of wall time */
  imagesPerSec: number;
  imageStepsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  /** achieved refiner GFLOP/s: image-steps/s × the manifest's gflopPerImageStep */
  gflops: number;
}

/** Nearest-rank percentile of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function measurement(opts: { images: number; steps: number; wallMs: number; latenciesMs: readonly number[]; gflopPerImageStep: number }): Measurement {
  const imagesPerSec = opts.images / (opts.wallMs / 1000);
  const imageStepsPerSec = imagesPerSec * opts.steps;
  return {
    imagesPerSec,
    imageStepsPerSec,
    p50Ms: percentile(opts.latenciesMs, 50),
    p95Ms: percentile(opts.latenciesMs, 95),
    gflops: imageStepsPerSec * opts.gflopPerImageStep,
  };
}
