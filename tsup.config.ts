import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'bindings/src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    shims: true, // import.meta.url in the CJS build (library lookup next to the package)
    target: 'node18',
    external: ['koffi'],
  },
  {
    entry: { cli: 'bindings/src/cli.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node18',
    external: ['koffi'],
  },
]);
