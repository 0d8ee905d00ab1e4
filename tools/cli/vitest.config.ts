import { defineProject } from 'vitest/config';

// Units, and one process-level test against a real gateway (nats-server, the four services): generous start-up on a
// busy 2-core machine.
export default defineProject({ test: { name: 'cli', include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000 } });
