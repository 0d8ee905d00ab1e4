/**
 * Service names and subjects. Each service is a NATS micro service (discoverable through $SRV.PING|INFO|STATS)
 * whose endpoints listen in the QUEUE group, so that any number of replicas share the load.
 */
export const QUEUE = 'diffusevae';
export const VERSION = '0.1.0';

export const SERVICES = {
  encoder: { name: 'diffusevae-encoder', description: 'images → μ, log σ² (and z sampled from a seed)' },
  vaeDecoder: { name: 'diffusevae-vae-decoder', description: 'z → x̂, the stage-1 images' },
  refiner: { name: 'diffusevae-refiner', description: 'ε_θ(x_t, t, x̂) on a batch, per-sample t; batches concurrent requests' },
  scheduler: { name: 'diffusevae-scheduler', description: 'runs the reverse process (DDPM, DDIM), calling the refiner once per step' },
} as const;
export type ServiceKey = keyof typeof SERVICES;

export const SUBJECTS = {
  encode: 'diffusevae.encoder.encode',
  decode: 'diffusevae.vae-decoder.decode',
  eps: 'diffusevae.refiner.eps',
  refine: 'diffusevae.scheduler.refine',
  /**
   * a scheduler starting a refine request with a checkpoint key says so here (body: `<key> <token>`): any other
   * scheduler still running that key (for a caller that died or gave up on it) stops, instead of running on for nobody
   */
  refineTakeover: 'diffusevae.scheduler.takeover',
  /** progress of a refine request is published on `${progress}.${requestId}` */
  progress: 'diffusevae.progress',
  /** a gateway asks the replica that runs a job to cancel it; the body is the job id */
  jobCancel: 'diffusevae.jobs.cancel',
  /** the runner that stored a job's final state says so (body: the job id): a replica waiting for it answers */
  jobFinished: 'diffusevae.jobs.finished',
  /** submitted jobs, in the JETSTREAM.jobStream work queue: one message per job, its id as the msg id */
  jobWork: 'diffusevae.jobs.work',
} as const;

/**
 * A model set's name is one subject token: letters, digits, `_` and `-`, at most 64 (the trainer's `--name`, the
 * manifest's `name`). Several sets are served side by side, each on subjects of its own.
 */
export const SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function checkSetName(name: string): string {
  if (!SET_NAME.test(name)) throw new Error(`a model set name is one subject token (1–64 letters, digits, _ and -), got ${JSON.stringify(name)}`);
  return name;
}

/** The stages served per model set. */
export type SetStage = 'encode' | 'decode' | 'eps' | 'refine';

/**
 * A model set's subject for a stage, `<SUBJECTS[stage]>.<set>` (e.g. `diffusevae.refiner.eps.fmnist`): the replicas
 * that serve the set listen there, in the queue group, so that each set is scaled on its own and a request reaches only
 * a replica that has its set. A replica serving several sets has one endpoint per set (`$SRV.INFO` lists them).
 */
export function setSubject(stage: SetStage, set: string): string {
  return `${SUBJECTS[stage]}.${checkSetName(set)}`;
}

/**
 * A refiner replica's own ε subject for a set, `diffusevae.refiner.eps.<set>.<instanceId>` (its `$SRV` id), outside
 * the queue group: only that replica listens there, so a caller that chose the replica (service-kit's routedEps, least
 * outstanding work) reaches it. The same endpoint as setSubject('eps', set) otherwise.
 */
export function refinerEpsSubject(set: string, instanceId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(instanceId)) throw new Error(`a refiner instance id is one subject token (letters, digits, _ and -), got ${JSON.stringify(instanceId)}`);
  return `${setSubject('eps', set)}.${instanceId}`;
}

/** What lives in JetStream: the work queue of jobs, job states, and the schedulers' checkpoints. */
export const JETSTREAM = {
  /** work-queue stream over SUBJECTS.jobWork: a job is here until a runner has stored its final state */
  jobStream: 'DIFFUSEVAE_JOBS',
  /** the durable pull consumer every runner shares */
  jobConsumer: 'diffusevae-runners',
  /** KV: the reverse-process state of running refine calls, by `<jobId>.<firstSample>` */
  checkpointBucket: 'diffusevae-checkpoints',
  /** KV: the gateway's API keys (hashed), by key id, and each key's running jobs (`active.<keyId>`) */
  keyBucket: 'diffusevae-keys',
  /** KV: job states (the gateway's JOB_BUCKET default) */
  jobBucket: 'diffusevae-jobs',
  /**
   * copies of each of the above a cluster keeps (the stream's and every bucket's `num_replicas`): JETSTREAM_REPLICAS's
   * default, 1 for a single nats-server; 3 on a cluster of three or more survives the loss of a node (docs/cluster.md)
   */
  replicas: 1,
} as const;

/** The body of a cancel on a refine request's cancel subject that asks for a checkpoint first (a rollout). */
export const HANDOVER = 'handover';

/** Message headers. Tensors travel as raw little-endian bytes; their names, dtypes and shapes are here. */
export const HEADERS = {
  /** "name:dtype:d0xd1x…" entries joined by ";", in the order their bytes follow one another in the body */
  tensors: 'Diffusevae-Tensors',
  /** small JSON object of request parameters (seed, sampler, …): never tensor data */
  params: 'Diffusevae-Params',
  /** where a refine request's progress events go */
  progressSubject: 'Diffusevae-Progress-Subject',
  /** the platform's error code (see ErrorCode), next to the micro protocol's Nats-Service-Error-Code */
  errorCode: 'Diffusevae-Error-Code',
  /** the input field an error is about */
  errorField: 'Diffusevae-Error-Field',
  /** on a progress subject: a heartbeat of the scheduler running the request (no body), not a step */
  heartbeat: 'Diffusevae-Heartbeat',
} as const;
