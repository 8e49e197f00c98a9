import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../host-sdk/src/cli/io';
import { main } from '../../host-sdk/src/cli/program';
import { boardPins, loadBoard, renderAll } from '../src/index';
import { mutated, net, referenceJson } from './helpers';

async function run(...argv: string[]) {
  const io = recordingIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

function tempBoard(raw: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'handset-board-'));
  const path = join(dir, 'handset.board.json');
  writeFileSync(path, JSON.stringify(raw, null, 2));
  return path;
}

describe('handset board', () => {
  it('validate: the reference board exits 0 with a summary', async () => {
    const r = await run('board', 'validate');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/handset\.board\.json: OK - Handset reference board rev A: 5 parts \(3 on J1, 2 on ports\), 18 nets/);
    expect(r.err).toBe('');
  });

  it('validate FILE: a broken board exits 1, one problem per line naming the pin', async () => {
    const path = tempBoard(
      mutated((b) => {
        net(b, 'LIGHT_PWM').connects[0] = 'J1.15';
        net(b, 'EPD_DIN').connects[0] = 'J1.21';
      }),
    );
    const r = await run('board', 'validate', path);
    expect(r.code).toBe(1);
    const lines = r.err.trimEnd().split('\n');
    expect(lines[0]).toBe(`handset: BOARD_INVALID: ${path}: 2 board problems`);
    expect(lines[1]).toMatch(/^ {2}\[bus-pin\] U2 .* pin DIN needs SPI0_MOSI but is wired to header pin 21 \(GPIO9/);
    expect(lines[2]).toMatch(
      /^ {2}\[pwm-pin\] A1 \(LED fill-light driver\) pin PWM needs hardware PWM but is wired to header pin 15 \(GPIO22\)/,
    );
  });

  it('validate FILE: malformed JSON exits 1 with line and column', async () => {
    const path = tempBoard({});
    writeFileSync(path, '{ "name": "x", }');
    const r = await run('board', 'validate', path);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[json\] not valid JSON at line 1, column 16/);
  });

  it('generate --check: exit 0 when the checked-in files are current', async () => {
    const r = await run('board', 'generate', '--check');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wiring\.svg, pinout\.md, bom\.csv are up to date/);
  });

  it('generate --file writes the three files; --check then passes, and fails after an edit', async () => {
    const path = tempBoard(referenceJson());
    const dir = join(path, '..');
    const w = await run('board', 'generate', '--file', path);
    expect(w.code).toBe(0);
    expect(w.out.match(/^wrote /gm)).toHaveLength(3);
    const files = renderAll(await loadBoard(path));
    for (const name of ['wiring.svg', 'pinout.md', 'bom.csv'] as const)
      expect(readFileSync(join(dir, name), 'utf8')).toBe(files[name]);
    expect((await run('board', 'generate', '--check', '--file', path)).code).toBe(0);

    writeFileSync(path, JSON.stringify(mutated((b) => net(b, 'LIGHT_PWM').connects.splice(0, 1, 'J1.33'))));
    const stale = await run('board', 'generate', '--check', '--file', path);
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/BOARD_STALE: generated files are out of date/);
    expect(stale.err).toMatch(/wiring\.svg: stale/);
  });

  it('pins --model pi5 --json prints boardPins()', async () => {
    const r = await run('board', 'pins', '--model', 'pi5', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(boardPins(await loadBoard(), 'pi5'));
  });

  it('pins prints a readable table for pi4 by default', async () => {
    const r = await run('board', 'pins');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^pi4: Raspberry Pi 4 Model B, GPIO chip pinctrl-bcm2711$/m);
    expect(r.out).toMatch(/^r307\.touch +GPIO23 \(line 23, header pin 16\), falling edge, pull-up$/m);
    expect(r.out).toMatch(/^fillLight\.pwm +fe20c000\.pwm channel 0, 25000 Hz \(GPIO12, header pin 32\)$/m);
  });

  it('pins --model with an unknown model is a usage error (exit 2)', async () => {
    const r = await run('board', 'pins', '--model', 'pi9');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Allowed choices are pi4, pi5/);
  });
});
