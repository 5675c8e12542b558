import { defineConfig } from 'vite';

// Built into the package's dist/console, which the server serves at /console (src/http/routes/console-routes.ts).
export default defineConfig({
  root: 'console',
  base: '/console/',
  publicDir: false,
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // The browsers that run the console are current; no legacy transforms or polyfills.
    target: 'es2022',
    reportCompressedSize: true,
  },
});
