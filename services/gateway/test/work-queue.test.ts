import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JETSTREAM, PlatformError, SUBJECTS } from '@diffusevae/contracts';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { DEFAULT_SCHEDULE } from '@diffusevae/schedulers';
import { JetStreamWorkQueue, type Delivery, type WorkItem } from '../src/index.js';
import { validateDenoise, validateGenerate, type ModelLimits } from '../src/validate.js';

// The JetStream work queue against a real nats-server: order and positions, slots, release, redelivery after a
// runner's connection dies, acks, the queue bound and the message size bound, stop(). Every test starts from an
// empty stream (deleted before each test; open() creates it again), so no test sees another's jobs.
const ACK_WAIT_MS = 1500;
const RETRY_AFTER_MS = 1234;
const MODEL: ModelLimits = { resolution: 28, channels: 1, numTrainTimesteps: 1000, schedule: DEFAULT_SCHEDULE, formulation: 1, noiseConditioning: 'discrete' };

let ns: NatsServer;
let nc: NatsConnection;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ns = await startNatsServer({ jetstream: true });
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  await nc?.close();
  await ns?.stop();
});

/** what each test must undo: consumers to stop, handlers to let go, connections to close */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeEach(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(JETSTREAM.jobStream).catch(() => false);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const open = (maxJobs = 100, conn = nc) => JetStreamWorkQueue.open(conn, { maxJobs, ackWaitMs: ACK_WAIT_MS, retryAfterMs: () => RETRY_AFTER_MS });

const item = (seed = 1): WorkItem => ({
  id: randomUUID(),
  kind: 'generate',
  createdAt: new Date().toISOString(),
  request: validateGenerate({ seed, sampler: { steps: 5 } }, MODEL, () => 0),
});

/** messages in the stream: waiting, or delivered and not acknowledged */
async function messages(): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(JETSTREAM.jobStream)).state.messages;
}

/** A gate a handler waits on; opened by the test, or at cleanup so that stop() can finish. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  cleanups.push(() => open());
  return { wait, open };
}

/** consume() whose stop() runs at cleanup (after the gates opened) unless the test stopped it already. */
function consume(q: JetStreamWorkQueue, slots: number, handle: (d: Delivery) => Promise<void>) {
  const c = q.consume(slots, handle);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= c.stop());
  cleanups.unshift(stop); // cleanups run in reverse: gates open first, then consumers stop
  return { stop };
}

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

describe('JetStreamWorkQueue', () => {
  it('enqueue gives increasing stream sequences, and the place in line of each job (1: next)', async () => {
    const q = await open();
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await q.enqueue(item(i)));
    const seqs = got.map((g) => g.seq);
    expect(seqs[0]).toBeGreaterThan(0);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    expect(got.map((g) => g.ahead)).toEqual([1, 2, 3, 4]);
    expect(await messages()).toBe(4);
  });

  it('position(seq) counts the jobs not yet delivered up to it, and is 0 once it is delivered', async () => {
    const q = await open();
    const [a, b, c] = [await q.enqueue(item(1)), await q.enqueue(item(2)), await q.enqueue(item(3))];
    const release = gate();
    const taken: Delivery[] = [];
    consume(q, 1, async (d) => {
      taken.push(d);
      await release.wait;
      await d.ack();
    });
    await until(() => taken.length === 1, 3000, 'the first job delivered');
    await sleep(300); // position() reads the consumer at most every 250 ms
    expect([await q.position(a.seq), await q.position(b.seq), await q.position(c.seq)]).toEqual([0, 1, 2]);
    // the queue depth (the metrics gauge): the two no runner has taken yet
    expect(await q.depth()).toBe(2);
    // another replica's queue (its own cache) answers the same
    const other = await open();
    expect([await other.position(a.seq), await other.position(b.seq), await other.position(c.seq)]).toEqual([0, 1, 2]);
    release.open();
    await until(() => taken.length === 3, 3000, 'all three delivered');
    await sleep(300);
    expect([await q.position(a.seq), await q.position(b.seq), await q.position(c.seq)]).toEqual([0, 0, 0]);
    expect(taken.map((d) => d.item.request.seed)).toEqual([1, 2, 3]); // in order
  });

  it('consume(N) never runs more than N handlers at once, and does run N', async () => {
    const q = await open();
    for (let i = 0; i < 8; i++) await q.enqueue(item(i));
    let active = 0;
    let most = 0;
    const handled: Delivery[] = [];
    consume(q, 3, async (d) => {
      active++;
      most = Math.max(most, active);
      handled.push(d);
      await sleep(150);
      active--;
      await d.ack();
    });
    await until(() => handled.length === 8 && active === 0, 10_000, 'eight jobs handled');
    expect(most).toBe(3);
    expect(new Set(handled.map((d) => d.item.id)).size).toBe(8);
    expect(handled.every((d) => d.attempt === 1)).toBe(true);
    await until(async () => (await messages()) === 0, 2000, 'all acknowledged');
  });

  it('release(0) gives a job back for an immediate redelivery, with attempt 2; release(ms) waits that long', async () => {
    const q = await open();
    const job = item();
    await q.enqueue(job);
    const seen: { attempt: number; at: number }[] = [];
    consume(q, 1, async (d) => {
      expect(d.item.id).toBe(job.id);
      seen.push({ attempt: d.attempt, at: Date.now() });
      if (d.attempt === 1) d.release(0);
      else if (d.attempt === 2) d.release(700);
      else await d.ack();
    });
    await until(() => seen.length === 3, 5000, 'three deliveries');
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(500); // well before ACK_WAIT
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(650);
    expect(seen[2]!.at - seen[1]!.at).toBeLessThan(ACK_WAIT_MS);
    await until(async () => (await messages()) === 0, 2000, 'acknowledged');
  });

  it('a job whose runner keeps working() stays with it past ACK_WAIT; when that runner dies (connection gone, no ack) another gets it, attempt 2', async () => {
    const q = await open();
    const nc1 = await connect({ servers: ns.url });
    const nc2 = await connect({ servers: ns.url });
    cleanups.push(() => nc2.close());
    const q1 = await open(100, nc1);
    const q2 = await open(100, nc2);
    const it1 = item();
    await q.enqueue(it1);

    const first = gate();
    let taken: Delivery | undefined;
    let beat: ReturnType<typeof setInterval> | undefined;
    consume(q1, 1, async (d) => {
      taken = d;
      beat = setInterval(() => d.working(), q1.heartbeatMs);
      await first.wait;
    });
    await until(() => taken !== undefined, 3000, 'runner 1 took the job');
    expect(taken!.attempt).toBe(1);

    const second: { d: Delivery; at: number }[] = [];
    consume(q2, 1, async (d) => {
      second.push({ d, at: Date.now() });
      await d.ack();
    });
    await sleep(2 * ACK_WAIT_MS);
    expect(second).toEqual([]); // still runner 1's

    // kill -9: no more heartbeats, no ack, the connection gone
    clearInterval(beat);
    const killedAt = Date.now();
    await nc1.close();
    await until(() => second.length === 1, ACK_WAIT_MS + 2000, 'runner 2 got the job');
    const { d, at } = second[0]!;
    expect(d.item).toEqual(it1);
    expect(d.attempt).toBe(2);
    expect(at - killedAt).toBeLessThan(ACK_WAIT_MS + 1500);
    await until(async () => (await messages()) === 0, 2000, 'acknowledged by runner 2');
  });

  it('a job that comes back to the runner still running it (its working() signals lost past ACK_WAIT) is not run twice; the ack goes through the latest delivery', async () => {
    const q = await open();
    await q.enqueue(item());
    const done = gate();
    const runs: Delivery[] = [];
    consume(q, 4, async (d) => {
      runs.push(d);
      await done.wait; // no working(): as if every signal were lost (a NATS cluster electing a leader)
      await d.ack();
    });
    await until(() => runs.length === 1, 3000, 'the job taken');
    const consumerInfo = async () => (await jetstreamManager(nc)).consumers.info(JETSTREAM.jobStream, JETSTREAM.jobConsumer);
    // the server hands it out again after ACK_WAIT, to the only runner there is: the one still running it
    await until(async () => (await consumerInfo()).num_redelivered === 1, 2 * ACK_WAIT_MS + 2000, 'the job redelivered');
    await sleep(200);
    expect(runs).toHaveLength(1);
    done.open();
    await until(async () => (await messages()) === 0, 2000, 'acknowledged');
    // acked through the redelivery: nothing pending, nothing handed out again
    await sleep(ACK_WAIT_MS + 500);
    expect(runs).toHaveLength(1);
    expect((await consumerInfo()).num_ack_pending).toBe(0);
  });

  it('ack removes the job from the stream; one delivered but not acknowledged stays', async () => {
    const q = await open();
    await q.enqueue(item(1));
    await q.enqueue(item(2));
    expect(await messages()).toBe(2);
    const hold = gate();
    const taken: Delivery[] = [];
    consume(q, 2, async (d) => {
      taken.push(d);
      if (d.item.request.seed === 2) await hold.wait;
      await d.ack();
    });
    await until(() => taken.length === 2, 3000, 'both delivered');
    await until(async () => (await messages()) === 1, 2000, 'the first acknowledged');
    await sleep(200);
    expect(await messages()).toBe(1);
    hold.open();
    await until(async () => (await messages()) === 0, 2000, 'the second acknowledged');
  });

  it('a full queue (maxJobs) refuses the next job with RESOURCE_EXHAUSTED and a retry hint; room comes back with an ack', async () => {
    const q = await open(2);
    await q.enqueue(item(1));
    await q.enqueue(item(2));
    const refused = await q.enqueue(item(3)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PlatformError);
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterMs: RETRY_AFTER_MS });
    expect((refused as Error).message).toMatch(/queue is full \(2 jobs waiting or running/);
    expect(await messages()).toBe(2);
    // a delivered job still counts until it is acknowledged
    const hold = gate();
    let n = 0;
    consume(q, 1, async (d) => {
      n++;
      await hold.wait;
      await d.ack();
    });
    await until(() => n === 1, 3000, 'one delivered');
    await expect(q.enqueue(item(4))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    hold.open();
    await until(async () => (await messages()) < 2, 3000, 'one acknowledged');
    await expect(q.enqueue(item(5))).resolves.toMatchObject({ seq: expect.any(Number) });
  });

  it("refuses a job over the server's max_payload with BAD_USER_INPUT naming 'input'; one just under it goes in", async () => {
    const q = await open();
    const max = nc.info!.max_payload;
    const sized = (bytes: number): WorkItem => {
      const base = { ...item(), request: validateDenoise({ image: 'x' }, MODEL, () => 0) };
      const pad = bytes - Buffer.byteLength(JSON.stringify(base)) + 1;
      const it: WorkItem = { ...base, request: { ...base.request, image: 'x'.repeat(pad) } };
      expect(Buffer.byteLength(JSON.stringify(it))).toBe(bytes);
      return it;
    };
    const refused = await q.enqueue(sized(max + 1)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PlatformError);
    expect(refused).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    expect((refused as Error).message).toMatch(/^input: the job's input is \d+ bytes, over what the job queue takes/);
    expect(await messages()).toBe(0);
    // the headroom left for JetStream's headers is enough: the largest accepted body is stored
    await expect(q.enqueue(sized(max - 4096))).resolves.toMatchObject({ seq: 1 });
    await expect(q.enqueue(sized(max - 4095))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await messages()).toBe(1);
  });

  it('stop() waits for the running handlers, then no more deliveries reach it: the next job goes to another consumer, first attempt', async () => {
    const q = await open();
    const handled: Delivery[] = [];
    const hold = gate();
    const c = consume(q, 2, async (d) => {
      handled.push(d);
      await hold.wait;
      await d.ack();
    });
    await q.enqueue(item(1));
    await until(() => handled.length === 1, 3000, 'the first job handled');
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await sleep(200);
    expect(stopped).toBe(false); // its handler still runs
    hold.open();
    const t0 = Date.now();
    await stopping;
    expect(Date.now() - t0).toBeLessThan(2000);

    const later = item(2);
    await q.enqueue(later);
    await sleep(500);
    expect(handled).toHaveLength(1);
    expect(await messages()).toBe(1);
    const next: Delivery[] = [];
    consume(q, 1, async (d) => {
      next.push(d);
      await d.ack();
    });
    await until(() => next.length === 1, ACK_WAIT_MS + 2000, 'another consumer got the job');
    expect(next[0]!.item.id).toBe(later.id);
    expect(next[0]!.attempt).toBe(1); // the stopped consumer never took it
  });

  it('open() again (another replica, or a restart with new settings) keeps the jobs and applies the new bound', async () => {
    const q = await open(5);
    await q.enqueue(item(1));
    const again = await open(1);
    await expect(again.enqueue(item(2))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(await messages()).toBe(1);
  });

  it('a message that is no job does not stop the consumer from taking the next jobs', async () => {
    const q = await open();
    await jetstream(nc).publish(SUBJECTS.jobWork, 'not a job');
    const good = item(7);
    await q.enqueue(good);
    const handled: Delivery[] = [];
    consume(q, 1, async (d) => {
      handled.push(d);
      await d.ack();
    });
    await until(() => handled.length === 1, 3000, 'the job after the bad message handled');
    expect(handled[0]!.item.id).toBe(good.id);
  });
});
