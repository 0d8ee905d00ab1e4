export { Tensor, type Shape, TensorError } from './tensor.js';
