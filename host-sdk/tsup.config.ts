import { defineConfig } from 'tsup';

// The CLI is bundled with our workspace packages inlined; third-party packages (native
// addons among them) stay external and load from node_modules.
export default defineConfig({
  entry: { cli: 'src/cli/main.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  noExternal: [/^@handset\//],
});
