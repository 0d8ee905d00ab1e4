import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Two pages, every asset bundled (no CDN, no web fonts): the playground at / and the explorer at /graphql.
// The gateway serves dist/ as static files: hashed assets under /assets/ are cached for a year.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // "use client" at the top of some of GraphiQL's dependencies: meaningless in a bundle
      onwarn(w, warn) {
        if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w);
      },
      input: { playground: resolve(import.meta.dirname, 'index.html'), explorer: resolve(import.meta.dirname, 'graphql.html') },
    },
  },
  // dev server (npm run dev -w services/playground): the API of a gateway started by npm start
  server: { proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } } },
});
