export { philox4x32 } from './philox.js';
export { Purpose, normals, batchNormals, checkSeed, RngError, type NoiseKey } from './normal.js';
