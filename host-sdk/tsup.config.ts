import { defineConfig } from 'tsup';

// The CLI is bundled with our workspace packages inlined; every third-party package
// (native addons among them, whichever workspace declares it) stays external and loads
// from node_modules.
export default defineConfig({
  // the decision thread's entry is loaded by file (new Worker), next to the bundle
  entry: { cli: 'src/cli/main.ts', 'decision-worker': 'src/cloud/decision-worker.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  noExternal: [/^@handset\//],
  external: [/^(?!@handset\/|\.|\/)/],
});
