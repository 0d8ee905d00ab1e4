export { DEFAULT_FMNIST_DIR, DatasetError, loadFashionMnist, parseIdx, type Split } from './idx.js';
