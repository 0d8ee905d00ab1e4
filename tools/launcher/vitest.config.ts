import { defineProject } from 'vitest/config';

// The end-to-end tests start the whole platform: one file at a time, generous start-up on a busy machine.
export default defineProject({
  test: { name: 'launcher', include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000, fileParallelism: false },
});
