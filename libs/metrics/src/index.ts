export { symmetricEigen, type SymmetricEigen } from './eigen.js';
export { featureStats, frechetDistance, type FeatureStats } from './fid.js';
export { psnr, psnrPerImage } from './psnr.js';
