import { defineConfig } from 'vitest/config';

// One run over every project: each lib, service and tool keeps its own vitest.config.ts
// (Nx infers each project's `test` target from it); `npm test` runs them all together.
export default defineConfig({
  test: {
    projects: ['libs/*/vitest.config.ts', 'services/*/vitest.config.ts', 'tools/*/vitest.config.ts'],
    // the playground's build, once, before the projects that start the launcher (which would otherwise each build it)
    globalSetup: ['tools/launcher/test/build-playground.setup.ts'],
  },
});
