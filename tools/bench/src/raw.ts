/** (a) The refiner loop in-process: ModelSet.eps and the same scheduler, no NATS, no gateway. */
import { ModelSet, type LoadOptions, type Precision } from '@diffusevae/models';
import { sampleLatents } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, runReverseProcess, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';

export interface RawBench {
  /** one step at this batch: onnxruntime sizes its buffers */
  warmUp(batch: number): Promise<void>;
  /** one job of `batch` images; its refiner loop's duration in ms */
  once(batch: number): Promise<number>;
  readonly gflopPerImageStep: number;
  /** time spent in onnxruntime (ModelSet.eps) so far, ms */
  readonly engineMs: number;
  release(): Promise<void>;
}

export async function rawBench(modelDir: string, session: LoadOptions, sampler: SamplerSettings['kind'], steps: number, precision: Precision = 'fp32'): Promise<RawBench> {
  const models = await ModelSet.load(modelDir, ['decoder', 'refiner'], { ...session, refinerPrecision: precision });
  // η = 0: the PyTorch loop's DDIM is the deterministic one, and every path must do the same work
  const settings: SamplerSettings = { ...DEFAULT_SAMPLER, kind: sampler, steps, eta: 0, timestepSpacing: 'leading', formulation: models.manifest.schedule.formulation };
  // stage-1 images as generation makes them, decoded before the clock starts: the refiner loop is what is timed
  const stage1 = (batch: number, seed: number) => models.decode(sampleLatents(seed, batch, models.manifest.latent.dim, 1));
  const refine = (cond: Tensor, s: SamplerSettings, seed: number) =>
    runReverseProcess({
      settings: s,
      seed,
      count: cond.batch,
      itemSize: cond.itemSize,
      cond: cond.data,
      epsModel: async (x, t, c) => {
        const t0 = performance.now();
        const eps = await models.eps(new Tensor(x, cond.shape), t, new Tensor(c, cond.shape));
        engineMs += performance.now() - t0;
        return eps.data;
      },
    });
  let seed = 1;
  let engineMs = 0;
  return {
    warmUp: async (batch) => void (await refine(await stage1(batch, 0), { ...settings, steps: 1 }, 0)),
    async once(batch) {
      const cond = await stage1(batch, seed);
      const t0 = performance.now();
      await refine(cond, settings, seed++);
      return performance.now() - t0;
    },
    gflopPerImageStep: models.manifest.refiner.gflopPerImageStep,
    get engineMs() {
      return engineMs;
    },
    release: () => models.release(),
  };
}
