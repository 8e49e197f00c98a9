import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@handset/device-drivers/core';
import { describe, expect, it } from 'vitest';
import {
  BOARD_RULES,
  BoardError,
  type BoardRule,
  checkBoard,
  loadBoard,
  loadBoardSync,
  parseBoardText,
  validateBoard,
} from '../src/index';
import { expectRules, mutated, net, part, problemsOf, referenceJson } from './helpers';

describe('reference board', () => {
  it('passes every rule', async () => {
    const { problems, board } = checkBoard(referenceJson());
    expect(problems).toEqual([]);
    expect(board?.parts.map((p) => p.ref)).toEqual(['U1', 'U2', 'A1', 'U3', 'U4']);
    const loaded = await loadBoard();
    expect(loaded.nets).toHaveLength(18);
    expect(loadBoardSync().title).toBe(loaded.title);
  });

  it('has the 40 header pins with the functions the brief names', async () => {
    const b = await loadBoard();
    const fn = (pin: number) => b.sbc.header.find((h) => h.pin === pin);
    expect(b.sbc.header).toHaveLength(40);
    expect(fn(8)).toMatchObject({ gpio: 14, functions: ['UART0_TXD'] });
    expect(fn(10)).toMatchObject({ gpio: 15, functions: ['UART0_RXD'] });
    expect([19, 21, 23, 24, 26].map((p) => fn(p)?.functions[0])).toEqual([
      'SPI0_MOSI',
      'SPI0_MISO',
      'SPI0_SCLK',
      'SPI0_CE0',
      'SPI0_CE1',
    ]);
    expect([32, 33, 12, 35].map((p) => fn(p)?.functions.find((f) => f.startsWith('PWM')))).toEqual([
      'PWM0',
      'PWM1',
      'PWM0',
      'PWM1',
    ]);
    expect(b.sbc.header.filter((h) => h.kind === 'ground').map((h) => h.pin)).toEqual([6, 9, 14, 20, 25, 30, 34, 39]);
    expect(b.sbc.header.filter((h) => h.kind === 'power').map((h) => `${h.pin}:${h.voltage}`)).toEqual([
      '1:3.3',
      '2:5',
      '4:5',
      '17:3.3',
    ]);
  });
});

interface Case {
  rule: BoardRule;
  title: string;
  raw: () => unknown;
  /** Every rule expected to fire (default: just `rule`). */
  rules?: BoardRule[];
  /** Text the problem of `rule` must contain: the pin (and part) it is about. */
  names: (string | RegExp)[];
  headerPin?: number;
  part?: string;
  pin?: string;
}

const cases: Case[] = [
  {
    rule: 'schema',
    title: 'a pin direction that is not one of the enum, with its JSON path',
    raw: () =>
      mutated((b) => {
        part(b, 'U1').pins[2]!.direction = 'sideways';
      }),
    names: ['parts[0].pins[2].direction', 'U1 pin TXD'],
    part: 'U1',
    pin: 'TXD',
  },
  {
    rule: 'schema',
    title: 'a net endpoint that is not REF.PIN',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_DC').connects[0] = 'pin22';
      }),
    names: ['nets[11].connects[0]', 'net EPD_DC'],
  },
  {
    rule: 'duplicate',
    title: 'two nets with one name',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_DC').name = 'EPD_RST';
      }),
    names: ['net name EPD_RST is used twice'],
  },
  {
    rule: 'header-table',
    title: 'a header table without pin 40',
    raw: () =>
      mutated((b) => {
        b.sbc.header = b.sbc.header.filter((h) => h.pin !== 40);
      }),
    names: ['header table lacks pin 40'],
  },
  {
    rule: 'pin-conflict',
    title: 'a header pin used by two nets (PWR moved onto the touch line)',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_PWR').connects[0] = 'J1.16';
      }),
    names: ['header pin 16 (GPIO23) is used twice', 'R307_TOUCH', 'EPD_PWR', 'U2 (2.13" e-paper (SSD1680, 122x250)) pin PWR'],
    headerPin: 16,
  },
  {
    rule: 'pin-conflict',
    title: 'a part pin on two nets',
    raw: () =>
      mutated((b) => {
        b.nets.push({ name: 'EXTRA', connects: ['J1.15', 'U2.DC'] });
      }),
    names: ['U2 (2.13" e-paper (SSD1680, 122x250)) pin DC is used twice', 'header pin 15 (GPIO22)', 'header pin 22 (GPIO25)'],
    part: 'U2',
    pin: 'DC',
  },
  {
    rule: 'pwm-pin',
    title: 'the LED fill-light on a pin without hardware PWM',
    raw: () =>
      mutated((b) => {
        net(b, 'LIGHT_PWM').connects[0] = 'J1.15';
      }),
    names: ['A1 (LED fill-light driver) pin PWM needs hardware PWM', 'header pin 15 (GPIO22)', 'pin 32 (GPIO12)'],
    headerPin: 15,
    part: 'A1',
    pin: 'PWM',
  },
  {
    rule: 'pwm-pin',
    title: 'two PWM users on one channel (GPIO12 and GPIO18 are both PWM0 channel 0 on a Pi 4)',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_PWR').connects[0] = 'J1.15';
        part(b, 'A1').pins.push({ name: 'PWM2', direction: 'in', signal: 'PWM', maxInputV: 12, description: 'second channel' });
        b.nets.push({ name: 'LIGHT_PWM2', connects: ['J1.12', 'A1.PWM2'] });
      }),
    names: ['PWM channel 0 on pi4 is shared by', 'pin PWM on header pin 32 (GPIO12)', 'pin PWM2 on header pin 12 (GPIO18)'],
  },
  {
    rule: 'schema',
    title: 'a per-type config value out of range, with its JSON path',
    raw: () =>
      mutated((b) => {
        part(b, 'U2').config.mode = 5;
      }),
    names: ['parts[1].config.mode (U2)'],
    part: 'U2',
  },
  {
    rule: 'pwm-frequency',
    title: 'a 1 kHz fill-light (audible, bands on a rolling shutter)',
    raw: () =>
      mutated((b) => {
        part(b, 'A1').config.frequencyHz = 1000;
      }),
    names: ['A1 (LED fill-light driver) pin PWM on header pin 32 (GPIO12) runs at 1000 Hz'],
    headerPin: 32,
  },
  {
    rule: 'bus-pin',
    title: 'SPI MOSI on the MISO pin',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_DIN').connects[0] = 'J1.21';
      }),
    names: [
      'U2 (2.13" e-paper (SSD1680, 122x250)) pin DIN needs SPI0_MOSI',
      'header pin 21 (GPIO9)',
      'SPI0_MOSI is on pin 19 (GPIO10)',
    ],
    headerPin: 21,
    part: 'U2',
    pin: 'DIN',
  },
  {
    rule: 'bus-pin',
    title: 'chip select on CE1 while the panel is configured for CE0',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_CS').connects[0] = 'J1.26';
      }),
    names: ['pin CS needs SPI0_CE0', 'header pin 26 (GPIO7)'],
    headerPin: 26,
  },
  {
    rule: 'bus-pin',
    title: 'UART TX and RX crossed the wrong way',
    raw: () =>
      mutated((b) => {
        net(b, 'R307_RX').connects[0] = 'J1.10';
        net(b, 'R307_TX').connects[0] = 'J1.8';
      }),
    names: [/U1 \(R307 fingerprint sensor\) pin (TXD|RXD) needs UART0_(RXD|TXD) but is wired to header pin (8|10)/],
  },
  {
    rule: 'logic-level',
    title: '5 V logic from a part output into a 3.3 V GPIO',
    raw: () =>
      mutated((b) => {
        part(b, 'U1').pins[2]!.outputV = 5;
      }),
    names: ['U1 (R307 fingerprint sensor) pin TXD drives 5 V logic into header pin 10 (GPIO15), a 3.3 V input'],
    headerPin: 10,
    part: 'U1',
    pin: 'TXD',
  },
  {
    rule: 'logic-level',
    title: 'R307 touch supply on 5 V makes TOUCH a 5 V output (and VCC on 3.3 V is out of range)',
    raw: () =>
      mutated((b) => {
        net(b, '5V_R307').connects[1] = 'U1.VT';
        net(b, '3V3_R307_VT').connects[1] = 'U1.VCC';
      }),
    rules: ['logic-level', 'supply'],
    names: ['pin TOUCH drives 5 V logic into header pin 16 (GPIO23)'],
    headerPin: 16,
  },
  {
    rule: 'power-short',
    title: 'a net joining 5 V to ground',
    raw: () =>
      mutated((b) => {
        net(b, '5V_R307').connects.push('J1.14');
      }),
    names: ['net 5V_R307 shorts power to ground', 'header pin 4 (5V)', 'header pin 14 (GND)'],
    headerPin: 4,
  },
  {
    rule: 'power-short',
    title: 'a GPIO tied straight to the 3V3 rail',
    raw: () =>
      mutated((b) => {
        net(b, '3V3_EPD').connects.push('J1.15');
      }),
    names: ['ties header pin 15 (GPIO22) straight to the 3V3 rail'],
    headerPin: 15,
  },
  {
    rule: 'supply',
    title: 'a supply pin on a GPIO',
    raw: () =>
      mutated((b) => {
        net(b, '5V_LIGHT').connects[0] = 'J1.15';
      }),
    names: ['A1 (LED fill-light driver) pin VIN is a supply input but is wired to header pin 15 (GPIO22)'],
    part: 'A1',
    pin: 'VIN',
  },
  {
    rule: 'missing-ground',
    title: 'the R307 without its ground wire',
    raw: () =>
      mutated((b) => {
        b.nets = b.nets.filter((n) => n.name !== 'GND_R307');
      }),
    names: ['U1 (R307 fingerprint sensor) pin GND is not wired to ground'],
    part: 'U1',
    pin: 'GND',
  },
  {
    rule: 'missing-ground',
    title: 'a ground pin wired to a GPIO',
    raw: () =>
      mutated((b) => {
        net(b, 'GND_LIGHT').connects[0] = 'J1.15';
      }),
    names: ['A1 (LED fill-light driver) pin GND is wired to header pin 15 (GPIO22), not to ground'],
  },
  {
    rule: 'unknown-part-type',
    title: 'a part type the validator does not know (and so no R307 any more)',
    raw: () =>
      mutated((b) => {
        part(b, 'U1').type = 'r309';
      }),
    rules: ['unknown-part-type', 'missing-part'],
    names: ["part U1 (R307 fingerprint sensor) has unknown type 'r309'"],
    part: 'U1',
  },
  {
    rule: 'unknown-pin',
    title: 'header pin 41',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_CS').connects[0] = 'J1.41';
      }),
    names: ['net EPD_CS: header pin 41 does not exist'],
    headerPin: 41,
  },
  {
    rule: 'unknown-pin',
    title: 'a part pin the part does not have',
    raw: () =>
      mutated((b) => {
        net(b, 'EPD_CS').connects[1] = 'U2.CS0';
      }),
    rules: ['unknown-pin', 'unconnected'],
    names: ['U2 (2.13" e-paper (SSD1680, 122x250)) pin CS0 does not exist'],
    part: 'U2',
    pin: 'CS0',
  },
  {
    rule: 'part-pins',
    title: 'a panel without its BUSY pin (net left dangling)',
    raw: () =>
      mutated((b) => {
        part(b, 'U2').pins = part(b, 'U2').pins.filter((p) => p.name !== 'BUSY');
      }),
    rules: ['part-pins', 'unknown-pin'],
    names: ['U2 (2.13" e-paper (SSD1680, 122x250)) pin BUSY is missing'],
  },
  {
    rule: 'unconnected',
    title: 'BUSY not wired',
    raw: () =>
      mutated((b) => {
        b.nets = b.nets.filter((n) => n.name !== 'EPD_BUSY');
      }),
    names: ['U2 (2.13" e-paper (SSD1680, 122x250)) pin BUSY is not wired to anything'],
    part: 'U2',
    pin: 'BUSY',
  },
  {
    rule: 'model',
    title: 'a camera port no SBC model describes',
    raw: () =>
      mutated((b) => {
        part(b, 'U3').config.port = 'CAM9';
      }),
    names: ['U3 (CSI camera) plugs into port CAM9'],
  },
  {
    rule: 'missing-part',
    title: 'no PIN pad',
    raw: () =>
      mutated((b) => {
        b.parts = b.parts.filter((p) => p.ref !== 'U4');
      }),
    names: ['needs a usb-hid-pinpad part'],
  },
];

describe('each rule refuses its broken board with a BoardError naming the pin', () => {
  it.each(cases)('$rule: $title', (c) => {
    const { error, problems } = problemsOf(c.raw());
    expect(error).toBeInstanceOf(ValidationError);
    expectRules(problems, c.rules ?? [c.rule]);
    const mine = problems.filter((p) => p.rule === c.rule);
    expect(mine.length).toBeGreaterThan(0);
    for (const want of c.names) {
      const hit = mine.some((p) => (typeof want === 'string' ? p.message.includes(want) : want.test(p.message)));
      expect(hit, `${c.rule}: no message contains ${want}:\n${mine.map((p) => p.message).join('\n')}`).toBe(true);
      if (typeof want === 'string') expect(error.message).toContain(want);
    }
    if (c.headerPin !== undefined) expect(mine.some((p) => p.headerPin === c.headerPin)).toBe(true);
    if (c.part !== undefined) expect(mine.some((p) => p.part === c.part)).toBe(true);
    if (c.pin !== undefined) expect(mine.some((p) => p.pin === c.pin)).toBe(true);
  });

  it('covers every rule the validator has', () => {
    const covered = new Set([...cases.map((c) => c.rule), 'json']);
    expect(BOARD_RULES.filter((r) => !covered.has(r))).toEqual([]);
  });

  it('json: malformed JSON names line and column', () => {
    const text = '{\n  "name": "x",\n  "title": \n}';
    try {
      parseBoardText(text, 'broken.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BoardError);
      const e = err as BoardError;
      expect(e.problems).toHaveLength(1);
      expect(e.problems[0]?.rule).toBe('json');
      expect(e.message).toMatch(/broken\.json: 1 board problem\n {2}\[json\] not valid JSON at line 4, column 1 near "}"/);
    }
  });

  it.each([
    ['{"a":1,}', 'line 1, column 8'],
    ['[1,\n2', 'line 2, column 2'],
    ['{"a": tru}', 'line 1, column 7'],
    ['{"a":"b\\q"}', 'line 1, column 9'],
    ['{"a":1} x', 'line 1, column 9'],
  ])('json: %j fails at %s', (text, where) => {
    expect(() => parseBoardText(text)).toThrow(`not valid JSON at ${where}`);
  });

  it('collects every problem, not just the first', () => {
    const raw = mutated((b) => {
      net(b, 'LIGHT_PWM').connects[0] = 'J1.15';
      net(b, 'EPD_DIN').connects[0] = 'J1.21';
      b.nets = b.nets.filter((n) => n.name !== 'GND_R307');
      part(b, 'U1').pins[2]!.outputV = 5;
    });
    const { problems, error } = problemsOf(raw);
    expectRules(problems, ['pwm-pin', 'bus-pin', 'missing-ground', 'logic-level']);
    expect(error.message.split('\n')).toHaveLength(1 + problems.length);
    expect(error.byRule('pwm-pin')).toHaveLength(1);
  });

  it('loadBoard reports a missing file and a broken file as BoardError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'board-'));
    await expect(loadBoard(join(dir, 'none.json'))).rejects.toThrow(/no such file/);
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify(mutated((b) => net(b, 'LIGHT_PWM').connects.splice(0, 1, 'J1.15'))));
    await expect(loadBoard(path)).rejects.toBeInstanceOf(BoardError);
    await expect(loadBoard(path)).rejects.toThrow(/header pin 15 \(GPIO22\)/);
  });

  it('validateBoard refuses non-objects cleanly', () => {
    for (const raw of [null, 42, 'board', []]) {
      const { problems } = problemsOf(raw);
      expect(problems[0]?.rule).toBe('schema');
    }
    expect(() => validateBoard(undefined)).toThrow(BoardError);
  });
});
