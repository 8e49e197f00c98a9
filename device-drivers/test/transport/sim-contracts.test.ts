import {
  describeFrameSourceContract,
  describeGpioContract,
  describeHidContract,
  describePwmContract,
  describeSpiContract,
  describeUartContract,
} from '../../src/transport/contract';
import {
  createSimUartPair,
  SimFrameSource,
  SimGpioController,
  SimHidDevice,
  SimPwm,
  SimSpi,
  SimUart,
} from '../../src/transport/sim';

describeUartContract(
  'SimUart',
  async () => {
    const { host, device } = createSimUartPair();
    return { a: host, b: device, disconnect: () => host.unplug() };
  },
  {
    missing: () => {
      const u = new SimUart({ path: 'sim:missing' });
      u.unplug();
      return u;
    },
  },
);

describeSpiContract('SimSpi', async () => {
  const spi = new SimSpi({ maxTransferSize: 64, peer: { transfer: (tx) => tx.map((b) => ~b & 0xff) } });
  return { spi, chunks: () => spi.recording.map((r) => r.tx) };
});

describeGpioContract('SimGpioController', async () => {
  const controller = new SimGpioController();
  return {
    controller,
    chipLabel: 'pinctrl-bcm2711',
    input: 24,
    output: 25,
    drive: (l) => controller.line('pinctrl-bcm2711', 24).setLevel(l),
    observe: () => controller.line('pinctrl-bcm2711', 25).level,
  };
});

describePwmContract('SimPwm', async () => {
  const pwm = new SimPwm();
  return { pwm, observe: () => pwm.state };
});

describeHidContract('SimHidDevice', async () => {
  const device = new SimHidDevice();
  return { device, send: (r) => device.sendReport(r), unplug: () => device.unplug(), written: () => device.written };
});

describeFrameSourceContract('SimFrameSource', async () => {
  const source = new SimFrameSource({ width: 8, height: 4, fps: 200, render: (seq) => new Uint8Array(32).fill(seq & 0xff) });
  return {
    source,
    frameIntervalMs: 5,
    kill: () => source.die(137, 'killed'),
    checkFrame: (f) => {
      if (f.data.some((b) => b !== (f.seq & 0xff))) throw new Error(`frame ${f.seq} has wrong pixels`);
    },
  };
});
