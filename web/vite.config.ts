import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The page, served (`npm run web`) and built to a static site (`npm run web:build`, into
 * web/dist/). Vite rather than esbuild alone: its dev server serves the modules as they are, and
 * `import.meta.glob` bundles the WGSL files.
 *
 * One source tree, no fork: engine/ and clara/ are bundled unchanged, with the few Node-only
 * modules they import swapped for browser ones here, at the edge.
 */
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  resolve: {
    alias: [
      // The WebGPU backend's host: navigator.gpu and bundled shaders instead of Dawn and shaders/ on disk.
      { find: /^\.\/host\.ts$/, replacement: here('../engine/backends/webgpu/host.browser.ts') },
      // The CPU backend's decode threads: none in a page (no node:worker_threads).
      { find: /^\.\/rowThreads\.ts$/, replacement: here('../engine/backends/cpu/rowThreads.browser.ts') },
      // What clara/ and engine/io read and write files with: an in-memory file system (a run
      // folder the user opens is mounted there).
      { find: 'node:fs', replacement: here('platform/memoryFs.ts') },
      { find: 'node:path', replacement: here('platform/posixPath.ts') },
      { find: 'node:crypto', replacement: here('platform/webCrypto.ts') },
      { find: 'node:os', replacement: here('platform/os.ts') },
      { find: 'node:zlib', replacement: here('platform/zlib.ts') },
    ],
  },
  server: { fs: { allow: [here('..')] } },
  build: { outDir: here('dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
