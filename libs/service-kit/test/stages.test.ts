import { HEADERS, PlatformError, float32, setSubject, type RefineParams, type TensorMap } from '@diffusevae/contracts';
import type { StepProgress } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { natsEps, natsProgress, natsStages, serve, type EndpointHandler } from '../src/index.js';

// Fake services on a server with a small max_payload, so that batches must be split.
const SHAPE = [1, 28, 28] as const;
/** the model set the fake services serve */
const SET = 'fmnist';
const ITEM = 784;
let ns: NatsServer;
let nc: NatsConnection;
const epsBatches: number[] = [];
let cancelSeen = false;

const ramp = (n: number, scale = 1) => new Tensor(Float32Array.from({ length: n * ITEM }, (_, i) => scale * (i % 997)), [n, ...SHAPE]);

const eps: EndpointHandler = async ({ tensors }) => {
  const [xT, t, cond] = [tensors.x_t!, tensors.t!, tensors.cond!];
  epsBatches.push(xT.shape[0]!);
  const out = new Float32Array(xT.data.length).map((_, i) => xT.data[i]! + t.data[Math.floor(i / ITEM)]! - cond.data[i]!);
  return { eps: float32(out, xT.shape) };
};
const encode: EndpointHandler = async ({ tensors }) => {
  const x = tensors.x!;
  const b = x.shape[0]!;
  return { mu: float32(Float32Array.from({ length: b }, (_, i) => x.data[i * ITEM]!), [b, 1]), logvar: float32(new Float32Array(b), [b, 1]) };
};
const decode: EndpointHandler = async ({ tensors }) => {
  const z = tensors.z!;
  return { x_hat: float32(new Float32Array(z.data.length * ITEM).map((_, i) => z.data[Math.floor(i / ITEM)]!), [z.data.length, ...SHAPE]) };
};
/** x0[i] = cond[i] + global sample index; progress: x̂_0 = stepIndex · cond for 3 steps. */
const progress = () => natsProgress(nc);
const refineParams: RefineParams[] = [];
const refine: EndpointHandler = async ({ tensors, params, header }) => {
  const p = params as RefineParams;
  refineParams.push(p);
  const cond = tensors.cond!;
  const subject = header(HEADERS.progressSubject)!;
  if (p.seed === 13) throw new PlatformError('BAD_USER_INPUT', 'sampler.steps: too many', 'sampler.steps');
  if (p.seed === 666) {
    const { signal, close } = progress().watchCancel(subject);
    await new Promise((r) => signal.addEventListener('abort', r));
    close();
    cancelSeen = true;
    throw new PlatformError('CANCELLED', 'cancelled');
  }
  const b = cond.shape[0]!;
  for (let step = 0; step < 3; step++) {
    const preview = new Tensor((cond.data as Float32Array).map((v) => v * step), cond.shape);
    progress().publish(subject, { stepIndex: step, steps: 3, timestep: 999 - step, elapsedMs: 1 }, p.preview ? preview : undefined);
  }
  const x0 = new Float32Array(cond.data.length).map((_, i) => cond.data[i]! + p.firstSample + Math.floor(i / ITEM));
  return { x0: float32(x0, [b, ...SHAPE]) } as TensorMap;
};

beforeAll(async () => {
  ns = await startNatsServer({ config: 'max_payload: 65536' });
  nc = await connect({ servers: ns.url });
  await serve(nc, { key: 'refiner', endpoints: [{ name: 'eps', subject: setSubject('eps', SET), handler: eps }] });
  await serve(nc, { key: 'encoder', endpoints: [{ name: 'encode', subject: setSubject('encode', SET), handler: encode }] });
  await serve(nc, { key: 'vaeDecoder', endpoints: [{ name: 'decode', subject: setSubject('decode', SET), handler: decode }] });
  await serve(nc, { key: 'scheduler', endpoints: [{ name: 'refine', subject: setSubject('refine', SET), handler: refine }] });
});
afterAll(async () => {
  await nc?.close();
  await ns?.stop();
});

describe('natsEps', () => {
  it('splits a batch to fit max_payload, sends the pieces concurrently, and joins the results in order', async () => {
    const xT = ramp(20);
    const cond = ramp(20, 0.5);
    const t = Array.from({ length: 20 }, (_, i) => 10 * i);
    const out = await natsEps(nc, { set: SET, timeoutMs: 5000 })(xT, t, cond);
    expect(epsBatches.sort((a, b) => a - b)).toEqual([2, 9, 9]); // (65536 − 4096) / (2·784·4 + 4) = 9 per message
    expect(out.shape).toEqual([20, ...SHAPE]);
    for (const i of [0, 9, 19]) expect(out.data[i * ITEM + 5]).toBe(xT.data[i * ITEM + 5]! + t[i]! - cond.data[i * ITEM + 5]!);
  });
});

describe('natsStages', () => {
  const stages = () => natsStages(nc, { set: SET, imageShape: SHAPE, timeoutMs: 5000, refineTimeoutMs: 5000 });

  it('encodes and decodes batches larger than one message', async () => {
    const x = ramp(50);
    const { mu, logvar } = await stages().encode(x);
    expect(mu.shape).toEqual([50, 1]);
    expect(logvar.shape).toEqual([50, 1]);
    expect(Array.from(mu.data)).toEqual(Array.from({ length: 50 }, (_, i) => x.data[i * ITEM]));
    const xHat = await stages().decode(mu);
    expect(xHat.shape).toEqual([50, ...SHAPE]);
    expect(xHat.data[49 * ITEM + 3]).toBe(mu.data[49]);
  });

  it('refines in chunks that keep their sample indices, and merges progress into one event per step', async () => {
    const cond = ramp(30);
    const steps: StepProgress[] = [];
    const x0 = await stages().refine(cond, { seed: 1, firstSample: 100, sampler: DEFAULT_SAMPLER, onStep: (s) => void steps.push(s) });
    for (const i of [0, 18, 19, 29]) expect(x0.data[i * ITEM + 7]).toBe(cond.data[i * ITEM + 7]! + 100 + i);
    expect(steps.map((s) => [s.stepIndex, s.timestep])).toEqual([[0, 999], [1, 998], [2, 997]]);
    expect(steps[2]!.predOriginal!.shape).toEqual([30, ...SHAPE]);
    expect(steps[2]!.predOriginal!.data[29 * ITEM + 7]).toBe(2 * cond.data[29 * ITEM + 7]!);
  });

  it('asks the scheduler for x̂_0 only every previewIntervalMs when given one', async () => {
    refineParams.length = 0;
    const s = natsStages(nc, { set: SET, imageShape: SHAPE, timeoutMs: 5000, refineTimeoutMs: 5000, previewIntervalMs: 1000 });
    await s.refine(ramp(2), { seed: 1, sampler: DEFAULT_SAMPLER, onStep: () => {} });
    expect(refineParams.at(-1)).toMatchObject({ preview: true, previewIntervalMs: 1000 });
    await stages().refine(ramp(2), { seed: 1, sampler: DEFAULT_SAMPLER, onStep: () => {} });
    expect(refineParams.at(-1)!.previewIntervalMs).toBeUndefined();
  });

  it('passes a service error through with its code and field', async () => {
    const err = await stages().refine(ramp(2), { seed: 13, sampler: DEFAULT_SAMPLER }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sampler.steps' });
  });

  it('cancels: rejects with CANCELLED at once and tells the scheduler', async () => {
    const ac = new AbortController();
    const pending = stages().refine(ramp(2), { seed: 666, sampler: DEFAULT_SAMPLER, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.waitFor(() => expect(cancelSeen).toBe(true));
  });

  it('reports SERVICE_UNAVAILABLE at once when a stage has no replica', async () => {
    const empty = await startNatsServer();
    const other = await connect({ servers: empty.url });
    try {
      const t0 = Date.now();
      const err = await natsStages(other, { set: SET, imageShape: SHAPE, timeoutMs: 10_000, refineTimeoutMs: 10_000 })
        .decode(new Tensor(new Float32Array(2), [1, 2]))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/^no diffusevae-vae-decoder \(model set fmnist\) replica is running/) });
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await other.close();
      await empty.stop();
    }
  });
});
