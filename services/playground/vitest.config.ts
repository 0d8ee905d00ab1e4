import { defineProject } from 'vitest/config';

// Two kinds of tests: the page's pure helpers (src/**/*.test.ts, in Node, milliseconds) and the browser tests
// (test/**/*.test.ts): `npm start`'s launcher for real, driven by playwright-core in Debian's chromium. Files run one
// after another: each browser file has a whole platform and a browser on a 2-core box.
export default defineProject({
  test: {
    name: 'playground',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
