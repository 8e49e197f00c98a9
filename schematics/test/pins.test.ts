import { describe, expect, it } from 'vitest';
import { BoardError, boardPins, loadBoard, referenceBoard, validateBoard } from '../src/index';
import { mutated, net } from './helpers';

describe('boardPins', () => {
  it('resolves the Pi 4 pins from the board', async () => {
    const p = boardPins(await loadBoard(), 'pi4');
    expect(p.gpioChipLabel).toBe('pinctrl-bcm2711');
    expect(p.r307.uart).toEqual({ path: '/dev/ttyAMA0', baudRate: 57600, bus: 'UART0', txHeaderPin: 8, rxHeaderPin: 10 });
    expect(p.r307.touch).toEqual({
      chipLabel: 'pinctrl-bcm2711',
      line: 23,
      name: 'GPIO23',
      headerPin: 16,
      activeLow: true,
      edge: 'falling',
      bias: 'pull-up',
    });
    expect(p.ssd1680.spi).toEqual({ bus: 0, chipSelect: 0, speedHz: 4_000_000, mode: 0, path: '/dev/spidev0.0' });
    expect([p.ssd1680.dc.line, p.ssd1680.rst.line, p.ssd1680.busy.line, p.ssd1680.pwr?.line]).toEqual([25, 17, 24, 18]);
    expect([p.ssd1680.dc.headerPin, p.ssd1680.rst.headerPin, p.ssd1680.busy.headerPin, p.ssd1680.pwr?.headerPin]).toEqual([
      22, 11, 18, 12,
    ]);
    expect(p.ssd1680.rst.activeLow).toBe(true);
    expect([p.ssd1680.width, p.ssd1680.height]).toEqual([122, 250]);
    expect(p.fillLight.pwm).toEqual({
      chip: { sysfsDevice: 'fe20c000.pwm', compatible: 'brcm,bcm2835-pwm' },
      channel: 0,
      frequencyHz: 25_000,
      periodNs: 40_000,
      gpio: 12,
      pinName: 'GPIO12',
      headerPin: 32,
      overlay: 'dtoverlay=pwm,pin=12,func=4',
    });
    expect(p.fillLight.pwm.frequencyHz).toBeGreaterThanOrEqual(20_000);
    expect(p.pinpad).toMatchObject({ usagePage: 1, usage: 6, driver: 'libusb', vendorId: null });
    expect(p.camera).toMatchObject({ capture: 'rpicam-vid', width: 640, height: 480 });
    expect(p.bootConfig).toEqual(['enable_uart=1', 'dtoverlay=disable-bt', 'dtparam=spi=on', 'dtoverlay=pwm,pin=12,func=4']);
  });

  it('resolves the Pi 5 chip labels, PWM chip and ports', async () => {
    const p = boardPins(await loadBoard(), 'pi5');
    expect(p.gpioChipLabel).toBe('pinctrl-rp1');
    for (const g of [p.r307.touch, p.ssd1680.dc, p.ssd1680.rst, p.ssd1680.busy]) expect(g.chipLabel).toBe('pinctrl-rp1');
    expect(p.fillLight.pwm.chip.sysfsDevice).toBe('1f00098000.pwm');
    expect(p.camera.port.connector).toMatch(/CAM\/DISP 0/);
    expect(p.bootConfig).toContain('dtparam=uart0=on');
  });

  it('follows the board: moving the fill-light to GPIO19 changes channel per model', () => {
    const board = validateBoard(
      mutated((b) => {
        net(b, 'LIGHT_PWM').connects[0] = 'J1.35';
      }),
    );
    expect(boardPins(board, 'pi4').fillLight.pwm).toMatchObject({
      gpio: 19,
      channel: 1,
      headerPin: 35,
      overlay: 'dtoverlay=pwm,pin=19,func=2',
    });
    expect(boardPins(board, 'pi5').fillLight.pwm).toMatchObject({ gpio: 19, channel: 3 });
  });

  it('follows the board: a panel without PWR wiring gets pwr null, touch on another line', () => {
    const board = mutated((b) => {
      b.nets = b.nets.filter((n) => n.name !== 'EPD_PWR');
      net(b, 'R307_TOUCH').connects[0] = 'J1.15';
      const u2 = b.parts.find((p) => p.ref === 'U2')!;
      u2.pins.find((q) => q.name === 'PWR')!.optional = true;
    });
    const p = boardPins(validateBoard(board), 'pi4');
    expect(p.ssd1680.pwr).toBeNull();
    expect(p.r307.touch).toMatchObject({ line: 22, headerPin: 15 });
  });

  it('referenceBoard() (bundled JSON, no fs) equals the checked-in file', async () => {
    expect(referenceBoard()).toEqual(await loadBoard());
    expect(boardPins(referenceBoard(), 'pi5')).toEqual(boardPins(await loadBoard(), 'pi5'));
  });

  it('throws a typed error for an unknown model', async () => {
    const board = await loadBoard();
    expect(() => boardPins(board, 'pi9' as 'pi4')).toThrow(BoardError);
    expect(() => boardPins(board, 'pi9' as 'pi4')).toThrow(/unknown SBC model 'pi9'/);
  });
});
