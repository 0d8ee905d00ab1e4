import { defineProject } from 'vitest/config';

// Process-level faults on a whole cluster: slow by nature, so a project of their own (`npx vitest run --project
// faults`), one file at a time, with generous start-up on a busy 2-core machine.
export default defineProject({
  test: { name: 'faults', include: ['test/**/*.test.ts'], testTimeout: 240_000, hookTimeout: 300_000, fileParallelism: false },
});
