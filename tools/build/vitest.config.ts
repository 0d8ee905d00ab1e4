import { defineProject } from 'vitest/config';

// image.test.ts builds the bundles and starts the five processes from them: one file at a time, generous timeouts.
export default defineProject({
  test: { name: 'build', include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000, fileParallelism: false },
});
