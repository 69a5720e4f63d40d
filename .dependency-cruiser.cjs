// The project's layering, checked by `npm run deps` (dependency-cruiser).
//
//   bin/ -> clara/cli/ -> clara/ -> engine/ -> engine/backends/webgpu/ -> `webgpu`, shaders/
//   test/ and bench/ may import anything; nothing in production imports them.
//
// Type-only imports count everywhere (tsPreCompilationDeps below): a cycle through `import type`
// still ties the two modules' designs together, so it is a cycle like any other.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules form a tree: an import cycle (value or type-only) means one concept is split across files.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-knows-no-clara',
      severity: 'error',
      comment: 'engine/ is a tensor library that knows nothing of CLaRa, the benchmarks, the command or the tests.',
      from: { path: '^engine/' },
      to: { path: '^(clara|bench|bin|test)/' },
    },
    {
      name: 'library-below-cli',
      severity: 'error',
      comment: 'clara/cli/ is the thin command on top of the library; the library never calls back into it.',
      from: { path: '^clara/', pathNot: '^clara/cli/' },
      to: { path: '^clara/cli/' },
    },
    {
      name: 'webgpu-package-only-in-webgpu-backend',
      severity: 'error',
      comment: 'Dawn (npm `webgpu`) is one backend: everything else reaches it through the Backend interface.',
      from: { pathNot: '^engine/backends/webgpu/' },
      to: { path: '(^|/)node_modules/webgpu/' },
    },
    {
      name: 'shaders-only-in-webgpu-backend',
      severity: 'error',
      comment:
        'The WGSL kernels are loaded by engine/backends/webgpu/shaderSource.ts alone. (This sees imports; ' +
        'a path into shaders/ read as a file elsewhere is caught by lint/shadersOnlyInWebgpuBackend.grit.)',
      from: { pathNot: '^engine/backends/webgpu/' },
      to: { path: '^shaders/' },
    },
    {
      name: 'production-imports-no-test-or-bench',
      severity: 'error',
      comment: 'The library and the command run without the tests and the benchmarks.',
      from: { path: '^(engine|clara|bin)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'clara-uses-engine-public-surface',
      severity: 'error',
      comment:
        'engine/README.md: "engine/index.ts, the public surface: import everything from here". Its three ' +
        'parts engine/io, engine/nn and engine/optim are entry points of their own (index.ts each; ' +
        'engine/index.ts re-exports nn and optim). The benchmarks may reach into the kernels; the ' +
        'library and the command should not.',
      from: { path: '^(clara|bin)/' },
      to: { path: '^engine/', pathNot: '^engine/((io|nn|optim)/)?index\\.ts$' },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'An import that does not resolve would hide its edge from every rule above.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are edges too (see the header).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mjs', '.js'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
