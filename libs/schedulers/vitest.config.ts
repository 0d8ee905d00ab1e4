import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'schedulers', include: ['test/**/*.test.ts'] } });
