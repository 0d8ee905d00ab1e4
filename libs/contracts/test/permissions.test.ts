import { describe, expect, it } from 'vitest';
import { JETSTREAM, NATS_IDENTITIES, SUBJECTS, inboxPrefixOf, natsPermissions, refinerEpsSubject, setSubject, type NatsIdentity } from '../src/index.js';

/** NATS subject matching: `*` one token, `>` one or more at the end. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const perms = natsPermissions();
const mayPublish = (id: NatsIdentity, subject: string) => perms[id].publish.some((p) => matches(p, subject));
const maySubscribe = (id: NatsIdentity, subject: string) => perms[id].subscribe.some((p) => matches(p, subject));
const publishers = (subject: string) => NATS_IDENTITIES.filter((id) => mayPublish(id, subject));
const subscribers = (subject: string) => NATS_IDENTITIES.filter((id) => maySubscribe(id, subject));
const SERVICE_IDS = ['encoder', 'vae-decoder', 'refiner', 'scheduler'] as const;

describe('natsPermissions', () => {
  it('has the six identities, each with its own inbox prefix that only it may read', () => {
    expect(Object.keys(perms).sort()).toEqual([...NATS_IDENTITIES].sort());
    for (const id of NATS_IDENTITIES) {
      expect(perms[id].inboxPrefix).toBe(`_INBOX_${id}`);
      expect(perms[id].inboxPrefix).toBe(inboxPrefixOf(id));
      expect(subscribers(`${inboxPrefixOf(id)}.abc.1`)).toEqual(id === 'admin' ? ['admin'] : [id, 'admin']);
    }
    // the default prefix is nobody's: a client that forgot inboxPrefix gets no replies rather than everyone's
    expect(subscribers('_INBOX.abc.1')).toEqual(['admin']);
  });

  it('only the admin holds a full wildcard, the JetStream API as a whole, or anyone’s inboxes', () => {
    expect(perms.admin).toMatchObject({ publish: ['>'], subscribe: ['>'] });
    for (const id of NATS_IDENTITIES.filter((i) => i !== 'admin')) {
      for (const p of [...perms[id].publish, ...perms[id].subscribe]) {
        expect(['>', '$JS.>', '$JS.API.>', '$KV.>', '_INBOX.>'], id).not.toContain(p);
        if (p.startsWith('_INBOX')) expect(p, id).toBe(`${inboxPrefixOf(id)}.>`);
      }
      expect(mayPublish(id, '_INBOX.abc.1'), id).toBe(false);
      for (const other of NATS_IDENTITIES) expect(mayPublish(id, `${inboxPrefixOf(other)}.abc.1`), `${id} → ${other}'s inbox`).toBe(false);
    }
  });

  it('services listen on their endpoint and answer through allow_responses; callers are the ones in the pipeline', () => {
    for (const set of ['fmnist', 'fmnist-f2-cont']) {
      expect(subscribers(setSubject('encode', set))).toEqual(['encoder', 'admin']);
      expect(subscribers(setSubject('decode', set))).toEqual(['vae-decoder', 'admin']);
      expect(subscribers(setSubject('eps', set))).toEqual(['refiner', 'admin']);
      expect(subscribers(setSubject('refine', set))).toEqual(['scheduler', 'admin']);
      expect(publishers(setSubject('encode', set))).toEqual(['gateway', 'admin']);
      expect(publishers(setSubject('decode', set))).toEqual(['gateway', 'admin']);
      expect(publishers(setSubject('refine', set))).toEqual(['gateway', 'admin']);
      expect(publishers(setSubject('eps', set))).toEqual(['scheduler', 'admin']);
    }
    for (const id of SERVICE_IDS) {
      expect(perms[id].responses?.maxMsgs, id).toBe(1);
      // longer than any REQUEST_TIMEOUT_MS / EPS_TIMEOUT_MS the services accept (nats-server's default is 2 minutes)
      expect(perms[id].responses!.expiresMs, id).toBeGreaterThanOrEqual(3_600_000);
      expect(maySubscribe(id, '$SRV.PING'), id).toBe(true);
      expect(maySubscribe(id, '$SRV.INFO.diffusevae-x.id1'), id).toBe(true);
    }
    // a refine request is answered at the end of its reverse process: up to REFINE_TIMEOUT_MS (at most 24 h)
    expect(perms.scheduler.responses!.expiresMs).toBeGreaterThanOrEqual(86_400_000);
    expect(perms.gateway.responses).toBeUndefined();
    expect(perms.refiner.publish).toEqual([]);
    expect(perms.encoder.publish).toEqual([]);
    expect(perms['vae-decoder'].publish).toEqual([]);
  });

  it('progress goes from the scheduler to the gateway, cancels back; job and takeover messages stay among their peers', () => {
    const progress = `${SUBJECTS.progress}.abc123`;
    expect(publishers(progress)).toEqual(['scheduler', 'admin']);
    expect(subscribers(progress)).toEqual(['gateway', 'admin']);
    expect(publishers(`${progress}.cancel`)).toEqual(['gateway', 'admin']);
    expect(subscribers(`${progress}.cancel`)).toEqual(['scheduler', 'admin']);
    for (const s of [SUBJECTS.jobCancel, SUBJECTS.jobFinished]) {
      expect(publishers(s)).toEqual(['gateway', 'admin']);
      expect(subscribers(s)).toEqual(['gateway', 'admin']);
    }
    expect(publishers(SUBJECTS.refineTakeover)).toEqual(['scheduler', 'admin']);
    expect(subscribers(SUBJECTS.refineTakeover)).toEqual(['scheduler', 'admin']);
    expect(publishers('$SRV.PING')).toEqual(['gateway', 'admin']);
    expect(publishers('$SRV.STATS')).toEqual(['gateway', 'admin']);
  });

  it('a refiner replica’s own ε subject for a set: the refiner listens there, the scheduler (and only it) calls it and finds it', () => {
    const own = refinerEpsSubject('fmnist', 'NUID0ABCdef123');
    expect(own).toBe(`${SUBJECTS.eps}.fmnist.NUID0ABCdef123`);
    expect(subscribers(own)).toEqual(['refiner', 'admin']);
    expect(publishers(own)).toEqual(['scheduler', 'admin']);
    // one token only: nothing deeper under the eps subject, and no other service's subjects
    expect(maySubscribe('refiner', `${own}.x`)).toBe(false);
    expect(mayPublish('scheduler', `${own}.x`)).toBe(false);
    expect(maySubscribe('refiner', `${SUBJECTS.encode}.id1`)).toBe(false);
    // discovery: $SRV.INFO of the refiner service, not of the others, nor PING / STATS of anyone
    expect(publishers('$SRV.INFO.diffusevae-refiner')).toEqual(['scheduler', 'admin']);
    for (const s of ['$SRV.INFO', '$SRV.INFO.diffusevae-encoder', '$SRV.INFO.diffusevae-refiner.id1', '$SRV.PING.diffusevae-refiner', '$SRV.STATS.diffusevae-refiner']) {
      expect(mayPublish('scheduler', s), s).toBe(false);
    }
    expect(() => refinerEpsSubject('fmnist', 'a.b')).toThrow(/one subject token/);
    expect(() => refinerEpsSubject('fmnist', '*')).toThrow(/one subject token/);
    expect(() => refinerEpsSubject('fmnist', '')).toThrow(/one subject token/);
    // a set's name is one token too
    for (const bad of ['a.b', '*', '>', '', 'x'.repeat(65)]) expect(() => setSubject('eps', bad), bad).toThrow(/a model set name is one subject token/);
  });

  it('narrows JetStream to the stream and buckets each identity uses', () => {
    const jobs = `KV_${JETSTREAM.jobBucket}`;
    const keys = `KV_${JETSTREAM.keyBucket}`;
    const checkpoints = `KV_${JETSTREAM.checkpointBucket}`;
    const js = (id: NatsIdentity) => [...perms[id].publish, ...perms[id].subscribe].filter((p) => p.startsWith('$JS') || p.startsWith('$KV'));
    for (const id of ['encoder', 'vae-decoder', 'refiner'] as const) expect(js(id), id).toEqual([]);
    for (const p of js('gateway')) {
      expect(p === '$JS.API.INFO' || [JETSTREAM.jobStream, jobs, keys, `$KV.${JETSTREAM.jobBucket}.`, `$KV.${JETSTREAM.keyBucket}.`].some((n) => p.includes(n)), p).toBe(true);
    }
    for (const p of js('scheduler')) expect(p === '$JS.API.INFO' || p.includes(checkpoints) || p.startsWith(`$KV.${JETSTREAM.checkpointBucket}.`), p).toBe(true);

    expect(publishers(SUBJECTS.jobWork)).toEqual(['gateway', 'admin']);
    expect(publishers(`$KV.${JETSTREAM.jobBucket}.some-job`)).toEqual(['gateway', 'admin']);
    expect(publishers(`$KV.${JETSTREAM.keyBucket}.active.0123456789ab`)).toEqual(['gateway', 'admin']);
    expect(publishers(`$KV.${JETSTREAM.checkpointBucket}.job.0`)).toEqual(['scheduler', 'admin']);
    expect(publishers(`$JS.API.DIRECT.GET.${checkpoints}.$KV.${JETSTREAM.checkpointBucket}.job.0`)).toEqual(['scheduler', 'admin']);
    expect(publishers(`$JS.API.CONSUMER.MSG.NEXT.${JETSTREAM.jobStream}.${JETSTREAM.jobConsumer}`)).toEqual(['gateway', 'admin']);
    expect(publishers(`$JS.ACK.${JETSTREAM.jobStream}.${JETSTREAM.jobConsumer}.1.2.3.4.5`)).toEqual(['gateway', 'admin']);
    // KV watch: ordered consumers filtered inside the job bucket, and nowhere else
    expect(mayPublish('gateway', `$JS.API.CONSUMER.CREATE.${jobs}.oc_x_1.$KV.${JETSTREAM.jobBucket}.some-job`)).toBe(true);
    expect(mayPublish('gateway', `$JS.API.CONSUMER.CREATE.${jobs}.oc_x_1`)).toBe(false);
    expect(mayPublish('gateway', `$JS.API.CONSUMER.CREATE.${checkpoints}.oc_x_1.$KV.${JETSTREAM.checkpointBucket}.>`)).toBe(false);
    // nobody but the admin deletes, purges or lists what JetStream holds, or creates streams of its own
    for (const s of [
      `$JS.API.STREAM.DELETE.${JETSTREAM.jobStream}`,
      `$JS.API.STREAM.PURGE.${jobs}`,
      `$JS.API.STREAM.DELETE.${checkpoints}`,
      `$JS.API.CONSUMER.DELETE.${JETSTREAM.jobStream}.${JETSTREAM.jobConsumer}`,
      '$JS.API.STREAM.NAMES',
      '$JS.API.STREAM.LIST',
      '$JS.API.STREAM.CREATE.OTHER',
      '$JS.API.STREAM.CREATE.KV_other',
    ]) {
      expect(publishers(s), s).toEqual(['admin']);
    }
    // JetStream's KV subjects are written through the API, never read by subscribing
    expect(subscribers(`$KV.${JETSTREAM.jobBucket}.x`)).toEqual(['admin']);
  });

  it('takes the bucket names (the gateway’s JOB_BUCKET) as parameters', () => {
    const p = natsPermissions({ jobBucket: 'jobs-b', keyBucket: 'keys-b', checkpointBucket: 'cp-b' });
    const pub = (id: NatsIdentity, s: string) => p[id].publish.some((x) => matches(x, s));
    expect(pub('gateway', '$KV.jobs-b.j1')).toBe(true);
    expect(pub('gateway', '$JS.API.STREAM.CREATE.KV_jobs-b')).toBe(true);
    expect(pub('gateway', '$KV.keys-b.active.x')).toBe(true);
    expect(pub('gateway', `$KV.${JETSTREAM.jobBucket}.j1`)).toBe(false);
    expect(pub('scheduler', '$KV.cp-b.j1.0')).toBe(true);
    expect(pub('scheduler', `$KV.${JETSTREAM.checkpointBucket}.j1.0`)).toBe(false);
  });

  it('is data only: every subject is a valid NATS subject, with no duplicates', () => {
    for (const id of NATS_IDENTITIES) {
      for (const list of [perms[id].publish, perms[id].subscribe]) {
        expect(new Set(list).size, id).toBe(list.length);
        for (const s of list) expect(s, id).toMatch(/^[^\s.]+(\.[^\s.]+)*$/);
      }
    }
    expect(JSON.parse(JSON.stringify(perms))).toEqual(perms);
  });
});
