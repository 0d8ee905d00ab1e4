import { featureStats, frechetDistance, type FeatureStats } from '@diffusevae/metrics';
import type { ModelSet } from '@diffusevae/models';
import { Tensor } from '@diffusevae/tensor';

/** FID-FMNIST features of images in [−1, 1], in chunks so that memory stays flat. */
export async function featuresOf(models: ModelSet, images: Tensor, chunk = 500): Promise<Float32Array> {
  const d = models.manifest.classifier.featureDim;
  const out = new Float32Array(images.batch * d);
  for (let i = 0; i < images.batch; i += chunk) {
    const f = await models.features(images.sliceBatch(i, Math.min(images.batch, i + chunk)));
    out.set(f.data, i * d);
  }
  return out;
}

export async function statsOf(models: ModelSet, images: Tensor): Promise<FeatureStats> {
  return featureStats(await featuresOf(models, images), images.batch, models.manifest.classifier.featureDim);
}

export function fid(a: FeatureStats, b: FeatureStats): number {
  return frechetDistance(a, b);
}

/** [0, 1] pixels → the models' [−1, 1]. */
export function toModel(images: Tensor): Tensor {
  return new Tensor(Float32Array.from(images.data, (v) => 2 * v - 1), images.shape);
}
