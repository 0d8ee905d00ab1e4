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
  /** progress of a refine request is published on `${progress}.${requestId}` */
  progress: 'diffusevae.progress',
  /** a gateway asks the replica that runs a job to cancel it; the body is the job id */
  jobCancel: 'diffusevae.jobs.cancel',
} as const;

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
} as const;
