import { defineConfig } from 'tsup';

// The handset runtime as shipped in a firmware bundle: one ESM entry with our workspace
// packages inlined; third-party packages (native addons: better-sqlite3, serialport,
// node-hid, sharp) stay external and come from the image's node_modules.
export default defineConfig({
  entry: { handsetd: 'src/handsetd.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: false,
  splitting: false,
  noExternal: [/^@handset\//],
  external: [/^(?!@handset\/|\.|\/)/],
});
