import type { Tensor } from '@diffusevae/tensor';

/**
 * The three networks a pipeline calls. The in-process ModelSet implements it, and so do the NATS clients of
 * the encoder, vae-decoder and refiner services: a pipeline does not know which it runs on.
 */
export interface Stages {
  /** q(z|x): [B, C, H, W] in [−1, 1] → μ, log σ² */
  encode(x: Tensor): Promise<{ mu: Tensor; logvar: Tensor }>;
  /** z → x̂ in [−1, 1] */
  decode(z: Tensor): Promise<Tensor>;
  /** ε_θ(x_t, t, x̂), a timestep per sample */
  eps(xT: Tensor, t: readonly number[], cond: Tensor): Promise<Tensor>;
}
