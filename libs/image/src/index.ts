export {
  decodeImage,
  decodeBase64Image,
  ImageError,
  type Image,
  type DecodeOptions,
  DEFAULT_MAX_WIDTH,
  DEFAULT_MAX_HEIGHT,
  DEFAULT_MAX_BYTES,
} from './codec.js';
export { encodePng, addPngText, pngTextChunk, type PngText } from './png.js';
export { toModelRange, fromModelRange, resize, grid, type ResizeKernel } from './ops.js';
