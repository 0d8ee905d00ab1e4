import path from 'node:path';
import { ensurePlayground } from '../src/playground.js';

/** Vitest global setup (root vitest.config.ts): the playground's build is current before any test starts a launcher. */
export default async function setup(): Promise<void> {
  await ensurePlayground(path.resolve(import.meta.dirname, '../../..'), (line) => console.log(`playground: ${line}`));
}
