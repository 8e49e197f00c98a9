import { describe, expect, it } from 'vitest';
import { HEAP_POLICIES } from '../../src/cli/commands/cloud';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';

// The memory effect of `--heap lean` is measured by bench/connections.ts (RSS of the built
// `handset cloud serve` with 10,500 connections, lean vs BENCH_CLOUD_HEAP=default).
describe('handset cloud serve --heap', () => {
  it('refuses an unknown heap policy before starting anything', async () => {
    const io = recordingIo();
    expect(await main(['cloud', 'serve', '--heap', 'huge', '--store', 'sqlite::memory:', '--quiet'], io)).toBe(1);
    expect(io.stderr).toMatch(/handset: BAD_ARGUMENT: bad --heap "huge"/);
    expect(io.stdout).not.toMatch(/"ready"/);
    const proto = recordingIo();
    expect(await main(['cloud', 'serve', '--heap', 'toString', '--store', 'sqlite::memory:', '--quiet'], proto)).toBe(1);
    expect(proto.stderr).toMatch(/BAD_ARGUMENT: bad --heap "toString"/);
  });

  it('lean is the small-heap V8 policy and default sets no flags', () => {
    expect(HEAP_POLICIES.lean).toEqual(['--heap-growing-percent=25']);
    expect(HEAP_POLICIES.default).toEqual([]);
    expect(HEAP_POLICIES.huge).toBeUndefined();
  });

  it('refuses a bad --verify-threads before starting anything', async () => {
    for (const bad of ['-1', '1.5', 'two', '17']) {
      const io = recordingIo();
      expect(await main(['cloud', 'serve', '--verify-threads', bad, '--store', 'sqlite::memory:', '--quiet'], io)).toBe(1);
      expect(io.stderr).toMatch(/BAD_ARGUMENT: bad thread count/);
      expect(io.stdout).not.toMatch(/"ready"/);
    }
  });
});
