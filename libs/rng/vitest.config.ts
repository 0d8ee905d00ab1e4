import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'rng', include: ['test/**/*.test.ts'] } });
