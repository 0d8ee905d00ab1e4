import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/batcher.js';

/** A run that records its batches and answers each input with input × 10, optionally held until released. */
function recorder(hold = false) {
  const batches: number[][] = [];
  let active = 0;
  let maxActive = 0;
  const gates: (() => void)[] = [];
  const run = async (inputs: number[]) => {
    batches.push(inputs);
    maxActive = Math.max(maxActive, ++active);
    if (hold) await new Promise<void>((r) => gates.push(r));
    active--;
    return inputs.map((i) => i * 10);
  };
  return { run, batches, gates, maxActive: () => maxActive };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Batcher', () => {
  it('tells onRun what each run merged, how long it took and whether it failed', async () => {
    const runs: { requests: number; items: number; ms: number; ok: boolean }[] = [];
    let fail = false;
    const b = new Batcher(
      async (inputs: number[]) => {
        await new Promise((r) => setTimeout(r, 20));
        if (fail) throw new Error('boom');
        return inputs;
      },
      { maxBatch: 8, maxWaitMs: 0, onRun: (r) => void runs.push(r) },
    );
    await Promise.all([b.submit(1, 2), b.submit(2, 3)]);
    fail = true;
    await expect(b.submit(3, 1)).rejects.toThrow('boom');
    expect(runs).toEqual([
      { requests: 2, items: 5, ms: expect.any(Number), ok: true },
      { requests: 1, items: 1, ms: expect.any(Number), ok: false },
    ]);
    for (const r of runs) expect(r.ms).toBeGreaterThanOrEqual(18);
  });

  it('counts the time spent in runs as busyMs, not the idle time between them', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const b = new Batcher(
      async (inputs: number[]) => {
        await sleep(30);
        return inputs;
      },
      { maxBatch: 8, maxWaitMs: 0 },
    );
    const t0 = performance.now();
    await b.submit(1, 1);
    await sleep(60);
    await b.submit(2, 1);
    const wall = performance.now() - t0;
    // two runs of 30 ms (a timer may fire a fraction of a millisecond early), and the 60 ms between them is idle
    expect(b.stats.busyMs).toBeGreaterThanOrEqual(58);
    expect(b.stats.busyMs).toBeLessThanOrEqual(wall - 58);
  });

  it('merges requests that arrive together into one run and hands each its own output', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 64, maxWaitMs: 5 });
    const outs = await Promise.all([1, 2, 3].map((i) => b.submit(i, 1)));
    expect(outs).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);
    expect(b.stats).toEqual({ requests: 3, items: 3, runs: 1, maxRequestsPerRun: 3, busyMs: expect.any(Number) });
  });

  it('with maxWaitMs 0, merges what arrived in the same turn of the event loop and waits for nothing else', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 64, maxWaitMs: 0 });
    const together = Promise.all([b.submit(1, 1), b.submit(2, 1)]);
    await expect(together).resolves.toEqual([10, 20]);
    await expect(b.submit(3, 1)).resolves.toBe(30);
    expect(r.batches).toEqual([[1, 2], [3]]);
  });

  it('starts at once when maxBatch items wait, without waiting maxWaitMs', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 4, maxWaitMs: 60_000 });
    await expect(Promise.all([b.submit(1, 2), b.submit(2, 2)])).resolves.toEqual([10, 20]);
  });

  it('never puts more than maxBatch items in a run, keeps arrival order, and runs one batch at a time', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 4, maxWaitMs: 1 });
    await Promise.all([b.submit(1, 3), b.submit(2, 1), b.submit(3, 3), b.submit(4, 2), b.submit(5, 2)]);
    expect(r.batches).toEqual([[1, 2], [3], [4, 5]]);
    expect(r.maxActive()).toBe(1);
  });

  it('runs a request larger than maxBatch on its own', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 4, maxWaitMs: 1 });
    await Promise.all([b.submit(1, 9), b.submit(2, 1)]);
    expect(r.batches).toEqual([[1], [2]]);
  });

  it('gathers the requests that arrive during a run into the next one', async () => {
    const r = recorder(true);
    const b = new Batcher(r.run, { maxBatch: 64, maxWaitMs: 1 });
    const first = b.submit(1, 1);
    await new Promise((res) => setTimeout(res, 10));
    expect(r.batches).toEqual([[1]]);
    const later = [b.submit(2, 1), b.submit(3, 1)];
    await tick();
    r.gates.shift()!();
    await first;
    await tick();
    r.gates.shift()!();
    await expect(Promise.all(later)).resolves.toEqual([20, 30]);
    expect(r.batches).toEqual([[1], [2, 3]]);
  });

  it('fails every request of a failed run, and runs the next batch normally', async () => {
    let fail = true;
    const b = new Batcher(
      async (inputs: number[]) => {
        if (fail) throw new Error('onnxruntime fell over');
        return inputs;
      },
      { maxBatch: 8, maxWaitMs: 1 },
    );
    const failed = await Promise.allSettled([b.submit(1, 1), b.submit(2, 1)]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(b.submit(3, 1)).resolves.toBe(3);
  });

  it('rejects when the run returns the wrong number of outputs', async () => {
    const b = new Batcher(async () => [1], { maxBatch: 8, maxWaitMs: 1 });
    await expect(Promise.all([b.submit(1, 1), b.submit(2, 1)])).rejects.toThrow(/1 outputs for 2 inputs/);
  });
});
