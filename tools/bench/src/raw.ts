/** (a) The refiner loop in-process: ModelSet.eps and the same scheduler, no NATS, no gateway. */
import { ModelSet } from '@diffusevae/models';
import { sampleLatents } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, runReverseProcess, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import { measurement, timed, type Measurement } from './stats.js';

export interface RawBench {
  run(batch: number, reps: number): Promise<Measurement>;
  release(): Promise<void>;
}

export async function rawBench(modelDir: string, threads: number, sampler: SamplerSettings['kind'], steps: number): Promise<RawBench> {
  const models = await ModelSet.load(modelDir, ['decoder', 'refiner'], { intraOpThreads: threads });
  const settings: SamplerSettings = { ...DEFAULT_SAMPLER, kind: sampler, steps, formulation: models.manifest.schedule.formulation };
  // stage-1 images as generation makes them, decoded before the clock starts: the refiner loop is what is timed
  const stage1 = (batch: number, seed: number) => models.decode(sampleLatents(seed, batch, models.manifest.latent.dim, 1));
  const refine = (cond: Tensor, s: SamplerSettings, seed: number) =>
    runReverseProcess({
      settings: s,
      seed,
      count: cond.batch,
      itemSize: cond.itemSize,
      cond: cond.data,
      epsModel: async (x, t, c) => (await models.eps(new Tensor(x, cond.shape), t, new Tensor(c, cond.shape))).data,
    });
  return {
    async run(batch, reps) {
      await refine(await stage1(batch, 0), { ...settings, steps: 1 }, 0); // warm-up: onnxruntime sizes its buffers
      const conds = await Promise.all(Array.from({ length: reps }, (_, r) => stage1(batch, r + 1)));
      let r = 0;
      const t = await timed(reps, async () => void (await refine(conds[r]!, settings, ++r)));
      return measurement({ images: batch * reps, steps, ...t, gflopPerImageStep: models.manifest.refiner.gflopPerImageStep });
    },
    release: () => models.release(),
  };
}
