function checkPair(a: ArrayLike<number>, b: ArrayLike<number>, maxValue: number): void {
  if (a.length !== b.length) throw new RangeError(`arrays differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new RangeError('PSNR of empty arrays is undefined');
  if (!(maxValue > 0)) throw new RangeError(`maxValue must be positive, got ${maxValue}`);
}

function psnrAt(a: ArrayLike<number>, b: ArrayLike<number>, start: number, end: number, maxValue: number): number {
  let se = 0;
  for (let i = start; i < end; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / (end - start);
  return mse === 0 ? Infinity : 10 * Math.log10((maxValue * maxValue) / mse);
}

/** PSNR in dB from the MSE over all values; Infinity when the arrays are identical. */
export function psnr(a: Float32Array, b: Float32Array, maxValue = 1): number {
  checkPair(a, b, maxValue);
  return psnrAt(a, b, 0, a.length, maxValue);
}

/**
 * Mean of per-image PSNR over a batch of `itemSize`-value images (the usual reconstruction
 * metric; it weights images equally, unlike `psnr` on the whole batch). One identical image
 * makes the mean Infinity.
 */
export function psnrPerImage(a: Float32Array, b: Float32Array, itemSize: number, maxValue = 1): number {
  checkPair(a, b, maxValue);
  if (!Number.isInteger(itemSize) || itemSize < 1 || a.length % itemSize !== 0) {
    throw new RangeError(`itemSize ${itemSize} does not divide ${a.length} values into images`);
  }
  const count = a.length / itemSize;
  let sum = 0;
  for (let k = 0; k < count; k++) sum += psnrAt(a, b, k * itemSize, (k + 1) * itemSize, maxValue);
  return sum / count;
}
