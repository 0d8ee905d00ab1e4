import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'image', include: ['test/**/*.test.ts'] } });
