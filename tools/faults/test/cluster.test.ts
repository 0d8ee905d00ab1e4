import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { JETSTREAM } from '@diffusevae/contracts';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { REPO_ROOT, startNatsCluster, type NatsCluster, type NatsNode } from '@diffusevae/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, writeJson, type Kind } from '../src/cluster.js';

// The platform on a three-node NATS cluster (issue 13): JetStream replicated across the nodes
// (JETSTREAM_REPLICAS=3: the job stream and every bucket in three copies), and the services spread over the nodes,
// each process connected to a different one. A batch of jobs is mid-way when the node that leads the job stream
// is killed (SIGKILL): every job must end SUCCEEDED with the bytes of an undisturbed run, none lost and none left
// in the queue, and a job submitted after the kill is taken as soon as the survivors have elected new leaders.
// Then the node is started again and must rejoin (its copies current again). CLUSTER_OUT=<file> writes what was
// measured (docs/cluster.md).
//
// Each process is given one node's URL as its NATS_URL (the client shuffles a list, so a list would not spread
// them predictably); it learns the other nodes from the one it reaches, and fails over to them when it dies.
const MODEL_DIR = process.env.MODEL_DIR || DEFAULT_MODEL_DIR;
const KINDS: Kind[] = ['vae-decoder', 'refiner', 'scheduler', 'gateway'];
const BATCH = [301, 302, 303, 304, 305, 306];
/** submitted after the kill, while the survivors elect new leaders */
const LATE = 307;
const INPUT = { count: 4, sampler: { kind: 'DDIM', steps: 20 } };
/** from the kill to the last job's end, at most (the undisturbed batch takes a few seconds) */
const BOUND_MS = 90_000;


interface Finished {
  id: string;
  status: string;
  attempts: number;
  finishedAt: number;
  pngs: string[];
  error?: string;
}

let nats: NatsCluster;
let platform: Cluster<NatsCluster>;
let jsm: JetStreamManager;
const reference = new Map<number, string[]>();
const referenceIds: string[] = [];
/** the undisturbed run: from the first submit to the last job's end */
let referenceMs = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** everything every process and every nats-server printed, for a failing assertion */
const dump = () => `${platform?.logs() ?? ''}\n${nats?.output() ?? ''}`;

const submit = (seed: number) => platform.submit({ ...INPUT, seed });
const job = (id: string) => platform.job(id);

async function untilFinished(id: string, until: number): Promise<Finished> {
  for (;;) {
    const j = await job(id);
    if (j && (j.status === 'SUCCEEDED' || j.status === 'FAILED' || j.status === 'CANCELLED')) {
      return {
        id,
        status: j.status,
        attempts: j.attempts,
        finishedAt: Date.parse(j.finishedAt!),
        pngs: (j.images ?? []).map((i: { png: string }) => i.png),
        ...(j.status !== 'SUCCEEDED' ? { error: `${j.errorCode}: ${j.error}` } : {}),
      };
    }
    if (Date.now() > until) throw new Error(`job ${id} did not finish in time: ${JSON.stringify(j)}\n${dump()}`);
    await sleep(100);
  }
}

/** When the job's stored progress first passes `step` (or it finished): the end of the stall the kill caused. */
async function untilPast(id: string, step: number, until: number): Promise<number> {
  for (;;) {
    const j = await job(id);
    if (j && (j.status !== 'RUNNING' || (j.progress?.step ?? 0) > step + 1)) return Date.now();
    if (Date.now() > until) return Date.now();
    await sleep(100);
  }
}

/** Polls `probe` until it returns something other than undefined; throws `what` with the logs after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms\n${dump()}`);
    await sleep(100);
  }
}

/** The names of the NATS connections a node serves (each process names its connection diffusevae-<kind>). */
async function connections(node: NatsNode): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${node.monitorPort}/connz?limit=1024`, { signal: AbortSignal.timeout(2000) });
  return ((await res.json()) as { connections?: { name?: string }[] }).connections?.map((c) => c.name ?? '') ?? [];
}

const connectionName = (kind: Kind) => `diffusevae-${kind}`;
const STREAMS = [JETSTREAM.jobStream, `KV_${JETSTREAM.jobBucket}`, `KV_${JETSTREAM.checkpointBucket}`];

beforeAll(async () => {
  nats = await startNatsCluster();
  platform = await Cluster.on(nats, nats.urls, { modelDir: MODEL_DIR, replicas: 1, kinds: KINDS, env: { JETSTREAM_REPLICAS: '3' } });
  jsm = await jetstreamManager(platform.nc);
  // the undisturbed run of every job of the test, together, as they run below
  const submittedAt = Date.now();
  const ids = await Promise.all([...BATCH, LATE].map(submit));
  referenceIds.push(...ids);
  const done = await Promise.all(ids.map((id) => untilFinished(id, Date.now() + 120_000)));
  referenceMs = Math.max(...done.map((d) => d.finishedAt)) - submittedAt;
  done.forEach((d, i) => {
    expect(d.status, `${JSON.stringify(d)}\n${dump()}`).toBe('SUCCEEDED');
    reference.set([...BATCH, LATE][i]!, d.pngs);
  });
});

afterAll(async () => {
  // CLUSTER_LOGS=<file>: every line every process and node printed, for a run to look into
  if (process.env.CLUSTER_LOGS) writeFileSync(process.env.CLUSTER_LOGS, `${platform?.logs(Infinity) ?? ''}\n${nats?.nodes.map((n) => `==== ${n.name}\n${n.output()}`).join('\n')}`);
  await platform?.stop();
});

describe('a NATS cluster of three with JetStream in three copies', () => {
  it('JETSTREAM_REPLICAS=3 puts the job stream and the buckets in three copies, the processes on every node', async () => {
    for (const stream of STREAMS) {
      const info = await jsm.streams.info(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      expect(info.cluster?.replicas?.length, `${stream}: ${JSON.stringify(info.cluster)}`).toBe(2);
    }
    for (const m of platform.members) {
      const node = nats.nodes.find((n) => n.url === m.natsUrl)!;
      expect(await connections(node), `${m.label} on ${node.name}`).toContain(connectionName(m.kind));
    }
    expect(new Set(platform.members.map((m) => m.natsUrl)).size).toBe(3);
  });

  it('the node leading the job stream is killed mid-batch: every job ends SUCCEEDED with the same bytes, none lost', async () => {
    const submittedAt = Date.now();
    const ids = await Promise.all(BATCH.map(submit));
    // mid-flight: every job running (20 steps: most of each is still ahead)
    const before = await until('every job of the batch running past step 2', 60_000, async () => {
      const jobs = await Promise.all(ids.map(job));
      return jobs.every((j) => j?.status === 'RUNNING' && (j.progress?.step ?? 0) >= 2) ? jobs : undefined;
    });
    const leaders = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, (await jsm.streams.info(s)).cluster?.leader] as const)));
    const metaLeader = await nats.metaLeader();
    const victim = nats.indexOf(leaders[JETSTREAM.jobStream]!);
    const node = nats.nodes[victim]!;
    const onVictim = platform.members.filter((m) => m.natsUrl === node.url).map((m) => m.label);
    const steps = before.map((j) => j!.progress!.step);

    const killedAt = Date.now();
    await nats.kill(victim);
    const survivors = nats.nodes.filter((_, i) => i !== victim);
    const deadline = killedAt + BOUND_MS;

    const [newLeaderMs, reconnectedMs, late, done, progressed] = await Promise.all([
      // the survivors elect a new leader of the job stream
      until('a new leader of the job stream', 60_000, async () => {
        const leader = (await jsm.streams.info(JETSTREAM.jobStream)).cluster?.leader;
        return leader && leader !== node.name ? Date.now() - killedAt : undefined;
      }),
      // every process is connected again, to a surviving node
      until('every process connected to a surviving node', 60_000, async () => {
        const names = (await Promise.all(survivors.map(connections))).flat();
        return platform.members.every((m) => names.includes(connectionName(m.kind))) ? Date.now() - killedAt : undefined;
      }),
      // a job submitted now is taken as soon as the job stream has a leader again
      (async () => {
        let tries = 0;
        for (;;) {
          tries++;
          try {
            const id = await submit(LATE);
            return { id, acceptedMs: Date.now() - killedAt, tries };
          } catch (e) {
            if (Date.now() > killedAt + 60_000) throw new Error(`no job accepted within 60 s of the kill (${tries} tries): ${(e as Error).message}\n${dump()}`);
            await sleep(250);
          }
        }
      })(),
      Promise.all(ids.map((id) => untilFinished(id, deadline))),
      Promise.all(ids.map((id, i) => untilPast(id, steps[i]!, deadline))),
    ]);
    const lateDone = await untilFinished(late.id, deadline);

    const rows = [...done, lateDone].map((d, i) => {
      const seed = [...BATCH, LATE][i]!;
      return {
        seed,
        status: d.status,
        attempts: d.attempts,
        ...(i < BATCH.length ? { stepAtKill: steps[i], stalledMs: Math.min(progressed[i]!, d.finishedAt) - killedAt } : { acceptedMs: late.acceptedMs, tries: late.tries }),
        killToEndMs: d.finishedAt - killedAt,
        sameBytes: d.pngs.join() === reference.get(seed)!.join(),
        ...(d.error ? { error: d.error } : {}),
      };
    });
    for (const r of rows) {
      expect(r.status, `seed ${r.seed}: ${JSON.stringify(r)}\n${dump()}`).toBe('SUCCEEDED');
      expect(r.sameBytes, `seed ${r.seed}: bytes differ from the undisturbed run`).toBe(true);
      // it was in flight when the node died (on this machine's clock, the gateway's too)
      expect(r.killToEndMs, `seed ${r.seed} had finished before the kill`).toBeGreaterThan(0);
    }

    // none lost, none left: the stream empty, the consumer with nothing pending (an ack lost in the election is
    // made good when the job comes back after ACK_WAIT and is seen finished), every stored job finished
    const drained = await until('the job stream empty and nothing pending on its consumer', 60_000, async () => {
      const [s, c] = await Promise.all([jsm.streams.info(JETSTREAM.jobStream), jsm.consumers.info(JETSTREAM.jobStream, JETSTREAM.jobConsumer)]);
      return s.state.messages === 0 && c.num_pending === 0 && c.num_ack_pending === 0 ? Date.now() - killedAt : undefined;
    });
    const kv = await new Kvm(platform.nc).open(JETSTREAM.jobBucket);
    // listing keys creates a consumer: the cluster may still be busy with the election, so try again
    const stored = await until('the keys of the job bucket', 30_000, async () => {
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      return keys;
    });
    const accepted = [...ids, late.id];
    expect(stored.filter((k) => accepted.includes(k)).sort()).toEqual([...accepted].sort());
    // a submission refused during the election may still have reached the stream (its ack lost): then it ran
    // too, as a job of its own (at most one per refused try); every one of them must have finished as well
    const known = new Set([...referenceIds, ...accepted]);
    // the bucket also holds cancel requests (`cancel.<id>`) and jobs()'s index (`index.<owner>.<createdAt>.<id>`)
    const jobKeys = stored.filter((k) => !k.startsWith('cancel.') && !k.startsWith('index.'));
    const refusedButRun = jobKeys.filter((k) => !known.has(k));
    expect(refusedButRun.length).toBeLessThanOrEqual(late.tries - 1);
    const unfinished: string[] = [];
    for (const k of jobKeys) {
      const status = (await kv.get(k))?.json<{ status: string }>().status;
      if (status !== 'SUCCEEDED') unfinished.push(`${k}: ${status}`);
    }
    expect(unfinished, dump()).toEqual([]);

    // the node comes back on its ports and store, rejoins, and every copy is current again
    const restartAt = Date.now();
    await nats.restart(victim);
    const rejoinedMs = await until('every copy current after the restart', 60_000, async () => {
      const infos = await Promise.all(STREAMS.map((s) => jsm.streams.info(s)));
      return infos.every((i) => i.cluster?.leader && i.cluster.replicas?.length === 2 && i.cluster.replicas.every((r) => r.current)) ? Date.now() - restartAt : undefined;
    });

    const result = {
      nodes: nats.nodes.length,
      replicas: 3,
      processes: platform.members.map((m) => ({ label: m.label, node: nats.nodes.find((n) => n.url === m.natsUrl)!.name })),
      input: INPUT,
      undisturbedBatchMs: referenceMs,
      disturbedBatchMs: Math.max(...done.map((d) => d.finishedAt)) - submittedAt,
      killed: { node: node.name, led: Object.entries(leaders).filter(([, l]) => l === node.name).map(([s]) => s), metaLeader: metaLeader === node.name, processesOnIt: onVictim },
      newJobStreamLeaderMs: newLeaderMs,
      everyProcessReconnectedMs: reconnectedMs,
      lateJobAcceptedMs: late.acceptedMs,
      drainedMs: drained,
      jobsLost: rows.filter((r) => r.status !== 'SUCCEEDED' || !r.sameBytes).length,
      extraJobs: refusedButRun.length,
      jobs: rows,
      restartedNodeCurrentMs: rejoinedMs,
    };
    console.log(`[cluster] ${JSON.stringify(result)}`);
    if (process.env.CLUSTER_OUT) writeJson(path.resolve(REPO_ROOT, process.env.CLUSTER_OUT), result);
  });
});
