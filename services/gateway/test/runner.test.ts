import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError, type ErrorCode } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { localStages, type Stages } from '@diffusevae/pipeline';
import { LogCapture } from '@diffusevae/service-kit';
import { gatewayLogger, InMemoryJobStore, localJobBus, MemoryWorkQueue, quietLogger, type Job, type JobStore, type Logger, type WorkQueue } from '../src/index.js';
import type { JobBus } from '../src/kv-store.js';
import { servedModel, type ServedModel } from '../src/model.js';
import { ModelSets } from '../src/model-sets.js';
import { DEFAULT_LIMITS, JobRunner, retryDelayMs, type RunnerLimits } from '../src/runner.js';
import { validateGenerate, type JobRequest } from '../src/validate.js';
import { MODEL_DIR } from './helpers.js';

// JobRunner on its own (no HTTP): real in-process models, the in-memory store, queue and bus. Retries after
// transient failures, handover on stop(), cancel requests for a job nobody runs.
let models: ModelSet;
let model: ServedModel;

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['decoder', 'refiner'], { intraOpThreads: 1 });
  model = servedModel(models.manifest);
});
afterAll(async () => {
  await models?.release();
});

const LIMITS: RunnerLimits = { ...DEFAULT_LIMITS, progressIntervalMs: 0, previewIntervalMs: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A validated generate request, as the resolvers make one. */
const request = (seed: number, steps: number): JobRequest => validateGenerate({ seed, sampler: { steps }, wait: false }, model.limits, () => 0);

/** The plain in-process stages, counting the refiner's ε calls (a step of the reverse process makes one). */
function counting(): { stages: Stages; eps: () => number } {
  let n = 0;
  const stages = localStages({
    encode: (x) => models.encode(x),
    decode: (z) => models.decode(z),
    eps: (x, t, c) => (n++, models.eps(x, t, c)),
  });
  return { stages, eps: () => n };
}

/** Each refiner step waits `ms` first, so that a job is still running when the test acts. */
function slowStages(ms: number): Stages {
  const local = localStages(models);
  return { ...local, refine: (cond, o) => local.refine(cond, { ...o, onStep: async (p) => (await sleep(ms), o.onStep?.(p)) }) };
}

/** refine throws what `fail(call)` gives (1-based call number), or runs as usual when it gives nothing. */
function failing(fail: (call: number) => Error | undefined): { stages: Stages; calls: () => number } {
  const local = localStages(models);
  let n = 0;
  const stages: Stages = {
    ...local,
    refine: async (cond, o) => {
      const e = fail(++n);
      if (e) throw e;
      return local.refine(cond, o);
    },
  };
  return { stages, calls: () => n };
}

/**
 * The real store seen by one runner: every state that runner stored (put, or an update that won) is recorded in
 * `writes`. `entryDelayMs` makes its reads of a job's entry slow (a slow JetStream KV).
 */
function recording(inner: InMemoryJobStore, opts: { entryDelayMs?: number } = {}): JobStore & { writes: Job[] } {
  const writes: Job[] = [];
  return {
    writes,
    get: (id) => inner.get(id),
    entry: async (id) => {
      if (opts.entryDelayMs) await sleep(opts.entryDelayMs);
      return inner.entry(id);
    },
    watch: (id) => inner.watch(id),
    requestCancel: (id) => inner.requestCancel(id),
    cancelRequested: (id) => inner.cancelRequested(id),
    list: (q) => inner.list(q),
    async put(job) {
      await inner.put(job);
      writes.push(job);
    },
    async update(job, revision) {
      const stored = await inner.update(job, revision);
      if (stored) writes.push(job);
      return stored;
    },
  };
}

/** "STATUS:attempts" of each state written for `id`, repeats of the same one collapsed (progress writes). */
function transitions(writes: Job[], id: string): string[] {
  const out: string[] = [];
  for (const j of writes) {
    if (j.id !== id) continue;
    const s = `${j.status}:${j.attempts}`;
    if (out.at(-1) !== s) out.push(s);
  }
  return out;
}

const pngs = (job: Job) => (job.status === 'SUCCEEDED' ? { images: job.images.map((i) => i.png), stage1: job.stage1.map((i) => i.png) } : undefined);

const runners: JobRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop().then(() => r.close())));
});

interface World {
  inner: InMemoryJobStore;
  queue: WorkQueue;
  bus: JobBus;
}
const world = (queue: WorkQueue = new MemoryWorkQueue(100, () => 1000)): World => ({ inner: new InMemoryJobStore(), queue, bus: localJobBus() });

function runner(w: World, stages: Stages, store: JobStore = w.inner, limits: Partial<RunnerLimits> = {}, log: Logger = quietLogger()): JobRunner {
  const r = new JobRunner(new ModelSets([{ model, stages }]), store, w.queue, w.bus, log, { ...LIMITS, ...limits });
  runners.push(r);
  return r;
}

/** The bytes of a job of this seed and step count that nothing disturbed (computed once per pair). */
const references = new Map<string, Promise<Job>>();
function undisturbed(seed: number, steps: number): Promise<Job> {
  const key = `${seed}/${steps}`;
  let p = references.get(key);
  if (!p) {
    const w = world();
    const r = runner(w, localStages(models)).start();
    p = r.submit(request(seed, steps)).then((s) => s.done);
    references.set(key, p);
  }
  return p;
}

/** `p`, or a rejection when it takes longer than `ms`. */
const soon = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`not within ${ms} ms`)))]);

/** Polls the store until `pred` holds for the job (or fails the test after `ms`). */
async function until(store: JobStore, id: string, pred: (job: Job | undefined) => boolean, ms = 10_000): Promise<Job | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const job = await store.get(id);
    if (pred(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not get there in ${ms} ms; it is ${JSON.stringify(job && { status: job.status, attempts: job.attempts })}`);
    await sleep(10);
  }
}

describe('retries after transient failures', () => {
  it.each<[ErrorCode]>([['SERVICE_UNAVAILABLE'], ['DEADLINE_EXCEEDED']])(
    'a refine that fails once with %s is run again after the back-off: SUCCEEDED at attempt 2, with the bytes of an undisturbed job',
    async (code) => {
      const w = world();
      const store = recording(w.inner);
      const { stages, calls } = failing((n) => (n === 1 ? new PlatformError(code, 'no refiner answered') : undefined));
      const r = runner(w, stages, store).start();
      const started = Date.now();
      const { job, done } = await r.submit(request(11, 5));
      const final = await done;
      const elapsed = Date.now() - started;
      expect(final).toMatchObject({ id: job.id, status: 'SUCCEEDED', attempts: 2 });
      expect(calls()).toBe(2);
      expect(elapsed).toBeGreaterThanOrEqual(retryDelayMs(1) - 50);
      expect(transitions(store.writes, job.id).filter((s) => !s.endsWith(':0'))).toEqual(['RUNNING:1', 'QUEUED:1', 'RUNNING:2', 'SUCCEEDED:2']);
      expect(pngs(final)).toEqual(pngs(await undisturbed(11, 5)));
      expect(await w.inner.get(job.id)).toEqual(final);
    },
  );

  it('a refine that always fails transiently ends FAILED with SERVICE_UNAVAILABLE after exactly maxAttempts runs', async () => {
    const w = world();
    const store = recording(w.inner);
    const { stages, calls } = failing(() => new PlatformError('SERVICE_UNAVAILABLE', 'no refiner answered'));
    const r = runner(w, stages, store, { maxAttempts: 2 }).start();
    const { job, done } = await r.submit(request(12, 5));
    const final = await done;
    expect(final).toMatchObject({ status: 'FAILED', attempts: 2, error: { code: 'SERVICE_UNAVAILABLE', message: 'no refiner answered' } });
    expect(calls()).toBe(2);
    expect(transitions(store.writes, job.id).filter((s) => !s.endsWith(':0'))).toEqual(['RUNNING:1', 'QUEUED:1', 'RUNNING:2', 'FAILED:2']);
    // the job left the queue: nothing runs it a third time
    await sleep(retryDelayMs(2) + 200);
    expect(calls()).toBe(2);
  });

  it.each<[string, () => Error, ErrorCode]>([
    ['BAD_USER_INPUT', () => PlatformError.badInput('input.sampler', 'not for this model'), 'BAD_USER_INPUT'],
    ['an unknown error (INTERNAL)', () => new Error('the refiner blew up'), 'INTERNAL_SERVER_ERROR'],
  ])('a non-transient failure (%s) is not retried: FAILED at attempt 1', async (_name, error, code) => {
    const w = world();
    const store = recording(w.inner);
    const { stages, calls } = failing(error);
    const lines = new LogCapture();
    const r = runner(w, stages, store, {}, gatewayLogger({ level: 'info', destination: lines })).start();
    const { job, done } = await r.submit(request(13, 5), { requestId: 'req-13' });
    const final = await done;
    expect(final).toMatchObject({ status: 'FAILED', attempts: 1, error: { code } });
    expect(calls()).toBe(1);
    expect(transitions(store.writes, job.id).filter((s) => !s.endsWith(':0'))).toEqual(['RUNNING:1', 'FAILED:1']);
    // its lines: each names the job and the request that submitted it; the failure says its code
    const mine = lines.find({ job: job.id });
    expect(mine.map((l) => l.msg)).toEqual(['job submitted', 'job started', 'job failed']);
    expect(mine.every((l) => l.request === 'req-13' && l.service === 'gateway')).toBe(true);
    expect(mine[2]).toMatchObject({ level: code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'warn', code, attempt: 1 });
    // an unknown error is logged with itself (never sent to the client); a known one with its message
    if (code === 'INTERNAL_SERVER_ERROR') expect(mine[2]!.err).toMatchObject({ type: 'Error', message: 'the refiner blew up' });
    else expect(mine[2]).toMatchObject({ message: 'input.sampler: not for this model' });
  });

  it('a refine taken over by a later try of the job (redelivered to another runner) lets go: nothing stored, not acked', async () => {
    const w = world();
    const store = recording(w.inner);
    const { stages, calls } = failing(() => PlatformError.takenOver());
    const lines = new LogCapture();
    const r = runner(w, stages, store, {}, gatewayLogger({ level: 'info', destination: lines })).start();
    const { job, done } = await r.submit(request(14, 5));
    const settled = await Promise.race([done.then(() => 'finished'), sleep(1500).then(() => 'still open')]);
    // the other try stores the final state and acks; a FAILED "cancelled" here would race it to the client
    expect(settled).toBe('still open');
    expect(calls()).toBe(1);
    expect(transitions(store.writes, job.id).filter((s) => !s.endsWith(':0'))).toEqual(['RUNNING:1']);
    expect(lines.find({ job: job.id }).map((l) => l.msg)).toEqual(['job submitted', 'job started', 'job handed over: a later try of it runs elsewhere']);
    // a user's cancel is still a cancel: the same code with another message fails the job
    expect(PlatformError.isTakenOver(new PlatformError('CANCELLED', 'the job was cancelled'))).toBe(false);
  });

  it('retryDelayMs doubles from 1000 ms and stops at 10000 ms', () => {
    expect([1, 2, 3, 4, 5, 6, 10, 50].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });
});

describe('handover and cancel across runners', () => {
  /** Runner A (slow steps) has the job mid-run, then stops: the job is back in the queue, QUEUED. */
  async function handedOver(seed: number, steps: number) {
    const w = world();
    const storeA = recording(w.inner);
    const a = runner(w, slowStages(25), storeA).start();
    const { job, done } = await a.submit(request(seed, steps));
    await until(w.inner, job.id, (j) => j?.status === 'RUNNING' && (j.progress?.step ?? 0) >= 3);
    await a.stop();
    expect(a.active).toBe(0);
    return { w, a, storeA, id: job.id, done };
  }

  it('a runner that stops hands its running job over: the next runner finishes it (attempt 2) with the bytes of an undisturbed job', async () => {
    const { w, storeA, id, done } = await handedOver(21, 40);
    const handed = await w.inner.get(id);
    expect(handed).toMatchObject({ status: 'QUEUED', attempts: 1 });
    // A stored where the job stood, never an end of it
    const byA = transitions(storeA.writes, id);
    expect(byA.at(-1)).toBe('QUEUED:1');
    expect(byA.some((s) => /^(FAILED|SUCCEEDED)/.test(s))).toBe(false);

    const storeB = recording(w.inner);
    const { stages, eps } = counting();
    const b = runner(w, stages, storeB).start();
    const final = await b.finished(id);
    expect(final).toMatchObject({ status: 'SUCCEEDED', attempts: 2, progress: { step: 40, steps: 40 } });
    expect(eps()).toBe(40); // run again from the start (in-process stages keep no checkpoint)
    expect(pngs(final)).toEqual(pngs(await undisturbed(21, 40)));
    expect(transitions(storeB.writes, id)).toEqual(['RUNNING:2', 'SUCCEEDED:2']);
    // the caller that submitted to A hears of it too, over the bus (A stopped but is not closed), not by its
    // fallback read every 2 s
    expect(await soon(done, 500)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(transitions(storeA.writes, id).some((s) => /^(FAILED|SUCCEEDED)/.test(s))).toBe(false);
  });

  it('a cancel requested while nobody runs the job ends it CANCELLED when the next runner takes it, without a refiner step', async () => {
    const { w, storeA, id, done } = await handedOver(22, 40);
    await w.inner.requestCancel(id);
    const storeB = recording(w.inner);
    const { stages, eps } = counting();
    const linesB = new LogCapture();
    const b = runner(w, stages, storeB, {}, gatewayLogger({ level: 'info', destination: linesB })).start();
    const final = await b.finished(id);
    expect(final).toMatchObject({ status: 'CANCELLED', attempts: 2, error: { code: 'CANCELLED' } });
    expect(eps()).toBe(0);
    // B's lines of the job: started (attempt 2), then cancelled; not a failure
    expect(linesB.find({ job: id })).toMatchObject([
      { level: 'info', msg: 'job started', attempt: 2 },
      { level: 'info', msg: 'job cancelled', code: 'CANCELLED', attempt: 2 },
    ]);
    expect(transitions(storeB.writes, id)).toEqual(['CANCELLED:2']);
    expect(transitions(storeA.writes, id).some((s) => /^(FAILED|SUCCEEDED|CANCELLED)/.test(s))).toBe(false);
    expect(await soon(done, 500)).toMatchObject({ status: 'CANCELLED', error: { code: 'CANCELLED' } });
  });

  /** Submits a job nobody takes yet, then ends it CANCELLED as cancelJob does for a QUEUED job (compare-and-set). */
  async function cancelledWhileQueued(w: World) {
    const idle = runner(w, localStages(models)); // not started: it only submits
    const { job } = await idle.submit(request(23, 30));
    const entry = (await w.inner.entry(job.id))!;
    expect(entry.job.status).toBe('QUEUED');
    const at = new Date().toISOString();
    const cancelled: Job = { ...job, status: 'CANCELLED', updatedAt: at, finishedAt: at, error: { code: 'CANCELLED', message: 'the job was cancelled' } };
    expect(await w.inner.update(cancelled, entry.revision)).toBe(true);
    return cancelled;
  }

  it('a job cancelled while queued is skipped by the runner that takes it: no refiner step, its state stays, it leaves the queue', async () => {
    const w = world(new MemoryWorkQueue(1, () => 1000));
    const cancelled = await cancelledWhileQueued(w);
    const store = recording(w.inner);
    const { stages, eps } = counting();
    const r = runner(w, stages, store).start();
    // taken and acknowledged: the queue (room for one job) takes another
    let next: Awaited<ReturnType<JobRunner['submit']>> | undefined;
    for (const deadline = Date.now() + 5000; !next && Date.now() < deadline; ) {
      next = await r.submit(request(24, 2)).catch(async (e: PlatformError) => (expect(e.code).toBe('RESOURCE_EXHAUSTED'), await sleep(20), undefined));
    }
    expect(next).toBeDefined();
    expect(await next!.done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await w.inner.get(cancelled.id)).toEqual(cancelled);
    expect(transitions(store.writes, cancelled.id)).toEqual([]);
    expect(eps()).toBe(2); // the second job's steps only
  });

  it('a job cancelled while queued stays CANCELLED even when the runner reads it slowly (progress written after the claim)', async () => {
    const w = world();
    const cancelled = await cancelledWhileQueued(w);
    const store = recording(w.inner, { entryDelayMs: 300 });
    const r = runner(w, slowStages(5), store).start();
    expect(r.active).toBe(1); // taken at once
    await until(w.inner, cancelled.id, () => r.active === 0, 5000);
    expect(await w.inner.get(cancelled.id)).toEqual(cancelled);
    expect(store.writes.filter((j) => j.id === cancelled.id)).toEqual([]);
  });

  it('a job that succeeded on its last attempt but whose ack was lost stays SUCCEEDED when redelivered', async () => {
    const inner = new MemoryWorkQueue(100, () => 1000);
    let lost = false;
    // the first ack does not reach the queue: the job comes back (as JetStream redelivers after ACK_WAIT)
    const queue: WorkQueue = {
      heartbeatMs: inner.heartbeatMs,
      enqueue: (item) => inner.enqueue(item),
      position: (seq) => inner.position(seq),
      consume: (slots, handle) =>
        inner.consume(slots, (d) =>
          handle({
            ...d,
            ack: async () => {
              if (lost) return d.ack();
              lost = true;
              d.release(0);
              throw new Error('ack lost');
            },
          }),
        ),
    };
    const w = world(queue);
    const r = runner(w, localStages(models), w.inner, { maxAttempts: 1 }).start();
    const { job, done } = await r.submit(request(25, 3));
    expect(await done).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    await until(w.inner, job.id, () => lost && r.active === 0, 2000);
    await sleep(100);
    expect(await w.inner.get(job.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });
});
