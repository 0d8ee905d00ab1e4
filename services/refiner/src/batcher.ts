export interface BatcherOptions {
  /** most items in one run; a single request larger than this still runs, on its own */
  maxBatch: number;
  /**
   * how long the first request of a batch waits for others before the run starts; 0 waits only for the
   * messages already read from the socket (setImmediate), which merges a scheduler tick's chunks at no cost
   */
  maxWaitMs: number;
  /** told after each run: what it merged and how long it took (metrics) */
  onRun?: (run: RunInfo) => void;
}

export interface RunInfo {
  requests: number;
  items: number;
  ms: number;
  ok: boolean;
}

export interface BatcherStats {
  requests: number;
  items: number;
  runs: number;
  /** the largest number of requests merged into one run */
  maxRequestsPerRun: number;
  /** time spent in runs (onnxruntime, for the refiner), ms: against wall time, how busy the replica is */
  busyMs: number;
}

interface Waiting<I, O> {
  input: I;
  size: number;
  resolve(out: O): void;
  reject(err: unknown): void;
}

/**
 * Merges concurrent requests into one call of `run` (one onnxruntime batch), then hands each request its own
 * output. A run takes whole requests in arrival order up to maxBatch items; it starts when maxBatch items
 * wait or maxWaitMs after the first one arrived. One run at a time: onnxruntime already uses every core for
 * one batch, and requests that arrive meanwhile form the next batch, which starts as soon as this one ends.
 * A failed run fails every request in it, so callers validate requests before submitting them.
 */
export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private queuedItems = 0;
  /** clears the pending flush timer, when one is set */
  private cancelTimer: (() => void) | undefined;
  private running = false;
  readonly stats: BatcherStats = { requests: 0, items: 0, runs: 0, maxRequestsPerRun: 0, busyMs: 0 };

  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly opts: BatcherOptions,
  ) {}

  /** `size`: the request's number of items. */
  submit(input: I, size: number): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, size, resolve, reject });
      this.queuedItems += size;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return; // the run in flight starts the next one when it ends
    if (this.queuedItems >= this.opts.maxBatch) this.flush();
    else this.cancelTimer ??= this.startTimer();
  }

  private startTimer(): () => void {
    if (this.opts.maxWaitMs > 0) {
      const t = setTimeout(() => this.flush(), this.opts.maxWaitMs);
      return () => clearTimeout(t);
    }
    // setTimeout(0) would still cost about a millisecond: a tenth of a batch-1 step
    const i = setImmediate(() => this.flush());
    return () => clearImmediate(i);
  }

  private flush(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.running || this.queue.length === 0) return;
    let items = this.queue[0]!.size;
    let n = 1;
    while (n < this.queue.length && items + this.queue[n]!.size <= this.opts.maxBatch) items += this.queue[n++]!.size;
    const batch = this.queue.splice(0, n);
    this.queuedItems -= items;
    this.running = true;
    void this.runBatch(batch, items);
  }

  private async runBatch(batch: Waiting<I, O>[], items: number): Promise<void> {
    Object.assign(this.stats, {
      requests: this.stats.requests + batch.length,
      items: this.stats.items + items,
      runs: this.stats.runs + 1,
      maxRequestsPerRun: Math.max(this.stats.maxRequestsPerRun, batch.length),
    });
    const started = performance.now();
    let ok = false;
    try {
      const outputs = await this.run(batch.map((w) => w.input)).finally(() => (this.stats.busyMs += performance.now() - started));
      if (outputs.length !== batch.length) throw new Error(`batcher: run returned ${outputs.length} outputs for ${batch.length} inputs`);
      ok = true;
      batch.forEach((w, i) => w.resolve(outputs[i]!));
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.opts.onRun?.({ requests: batch.length, items, ms: performance.now() - started, ok });
      this.running = false;
      if (this.queue.length > 0) this.flush();
    }
  }
}
