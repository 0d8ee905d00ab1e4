import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'tensor', include: ['test/**/*.test.ts'] } });
