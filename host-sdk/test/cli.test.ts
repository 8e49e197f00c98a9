import { describe, expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { recordingIo } from '../src/cli/io';
import { main } from '../src/cli/program';

describe('handset CLI', () => {
  it('prints its version', async () => {
    const io = recordingIo();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.stdout.trim()).toBe(pkg.version);
  });

  it('prints help listing its commands', async () => {
    const io = recordingIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout).toContain('Usage: handset');
  });

  it('rejects an unknown command with exit code 2 and a clear message', async () => {
    const io = recordingIo();
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.stderr).toMatch(/error: (unknown command 'frobnicate'|too many arguments)/);
  });
});
