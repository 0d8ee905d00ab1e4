import { createRequire } from 'node:module';
import { defineProject } from 'vitest/config';

export default defineProject({
  // graphql@16 has no "exports": Node loads its CJS build for Apollo and graphql-tools, while Vite would pick
  // index.mjs for our own imports; two copies break `instanceof GraphQLError`. Point ours at Node's choice.
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  // Servers and ONNX sessions per file: files run one after another so the 2-core box is not oversubscribed.
  test: { name: 'gateway', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000, fileParallelism: false },
});
