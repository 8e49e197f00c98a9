import { Camera, CameraFrameError, frameLuma, SceneRenderer, SimCamera, splitExposure } from '@handset/device-drivers/camera';
import { ManualClock } from '@handset/device-drivers/core';
import { once, SimPwm } from '@handset/device-drivers/transport';
import { describe, expect, it } from 'vitest';

const scene = { code: { kind: 'qr' as const, payload: 'HELLO' }, pose: { scale: 4 }, seed: 2 };

function rig(lux: number, extra: Partial<ConstructorParameters<typeof SimCamera>[0]> = {}) {
  const clock = new ManualClock();
  const sim = new SimCamera({ clock, ambientLux: lux, scene, ...extra });
  const camera = new Camera({ source: sim.source });
  return { clock, sim, camera };
}

describe('scene renderer', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new SceneRenderer(160, 120, { ...scene, pose: { scale: 2 }, seed: 1 });
    const b = new SceneRenderer(160, 120, { ...scene, pose: { scale: 2 }, seed: 1 });
    const c = new SceneRenderer(160, 120, { ...scene, pose: { scale: 2 }, seed: 2 });
    const l = { ambientLux: 100 };
    const e = { exposureUs: 8000, gain: 4 };
    const fa = a.render(l, e).frame;
    expect(Buffer.from(fa).equals(Buffer.from(b.render(l, e).frame))).toBe(true);
    expect(Buffer.from(fa).equals(Buffer.from(c.render(l, e).frame))).toBe(false);
  });

  it('noise grows with gain at the same mean brightness', () => {
    const r = new SceneRenderer(200, 150, { seed: 4 }); // flat background: only noise varies
    const sd = (gain: number) => {
      const { frame } = r.render({ ambientLux: 100 }, { exposureUs: 16_000 / gain, gain });
      // neighbour differences: the scene's smooth gradient cancels, the noise does not
      let s = 0;
      for (let i = 0; i + 1 < frame.length; i += 2) s += (frame[i]! - frame[i + 1]!) ** 2;
      return Math.sqrt(s / (frame.length / 2));
    };
    expect(sd(8)).toBeGreaterThan(2 * sd(1));
  });

  it('a low PWM frequency bands the rows (rolling shutter); >= 20 kHz does not', () => {
    const r = new SceneRenderer(640, 480, { seed: 1, background: 0.5, shakePxPerS: 0 });
    const rowSpread = (hz: number) => {
      const { frame } = r.render(
        { ambientLux: 0, ledFullLux: 3000, ledDuty: 0.2, ledFrequencyHz: hz },
        { exposureUs: 1000, gain: 1 },
      );
      const rows: number[] = [];
      for (let y = 190; y < 290; y++) {
        let s = 0;
        for (let x = 300; x < 340; x++) s += frame[y * 640 + x]!;
        rows.push(s / 40);
      }
      return Math.max(...rows) - Math.min(...rows);
    };
    expect(rowSpread(1000)).toBeGreaterThan(4 * rowSpread(25_000));
  });

  it('splits exposure along the profile: shutter first, then gain', () => {
    expect(splitExposure(5000)).toEqual({ exposureUs: 5000, gain: 1 });
    expect(splitExposure(15_000)).toEqual({ exposureUs: 10_000, gain: 1.5 });
    expect(splitExposure(40_000)).toEqual({ exposureUs: 20_000, gain: 2 });
    expect(splitExposure(1e9).gain).toBe(16);
  });
});

describe('Camera over the simulated camera', () => {
  it('delivers gray frames with size, timestamp, exposure, gain and luma', async () => {
    const { camera } = rig(300);
    await camera.start();
    const f1 = await camera.next();
    const f2 = await camera.next();
    expect(f1.data.length).toBe(640 * 480);
    expect(f2.seq).toBe(f1.seq + 1);
    expect(f2.timestampMs - f1.timestampMs).toBeCloseTo(1000 / 30, 3);
    expect(f1.exposureUs).toBeGreaterThan(0);
    expect(f1.gain).toBeGreaterThanOrEqual(1);
    expect(f1.luma.meanY).toBeGreaterThan(0);
    await camera.stop();
  });

  it('auto-exposure: dark scene -> long shutter and high gain; bright -> short shutter at gain 1', async () => {
    for (const [lux, check] of [
      [2, (e: number, g: number) => e >= 50_000 && g >= 4],
      [800, (e: number, g: number) => e < 5_000 && g === 1],
    ] as const) {
      const { camera } = rig(lux);
      await camera.start();
      let f = await camera.next();
      for (let i = 0; i < 12; i++) f = await camera.next();
      expect(check(f.exposureUs ?? 0, f.gain ?? 0), `lux ${lux}: ${f.exposureUs} us, gain ${f.gain}`).toBe(true);
      await camera.stop();
    }
  });

  it('the LED lights the scene through the PWM duty (closed loop)', async () => {
    const pwm = new SimPwm();
    await pwm.open();
    await pwm.configure({ frequencyHz: 25_000, duty: 0 });
    await pwm.enable();
    const { sim, camera } = rig(2, { light: { pwm, fullLux: 250 } });
    await camera.start();
    for (let i = 0; i < 12; i++) await camera.next();
    const darkGain = sim.exposure.gain;
    await pwm.configure({ duty: 0.5 });
    for (let i = 0; i < 12; i++) await camera.next();
    expect(darkGain).toBeGreaterThanOrEqual(4);
    expect(sim.exposure.gain).toBeLessThan(1.5);
    expect(sim.exposure.gain).toBeLessThan(darkGain / 3);
    expect(sim.lastRender?.ledDuty).toBe(0.5);
    await camera.stop();
  });

  it('counts frames dropped while the consumer is busy', async () => {
    const { clock, camera } = rig(300);
    clock.autoAdvance = false;
    await camera.start();
    clock.advance(1);
    await camera.next();
    clock.advance(200); // ~6 frames captured, only the newest kept
    await camera.next();
    expect(camera.stats.dropped).toBeGreaterThanOrEqual(4);
    await camera.stop();
  });

  it('wrong-size and truncated frames -> typed errors; frames() skips them and goes on', async () => {
    const { sim, camera } = rig(300);
    sim.source.faults.next = once((f) => ({ ...f, width: 320, height: 240, data: f.data.subarray(0, 320 * 240) }));
    await camera.start();
    await expect(camera.next()).rejects.toSatisfy((e) => e instanceof CameraFrameError && e.code === 'FRAME_SIZE');
    sim.source.faults.next = once((f) => ({ ...f, data: f.data.subarray(0, 1000) }));
    await expect(camera.next()).rejects.toMatchObject({ code: 'FRAME_TRUNCATED' });
    sim.source.faults.next = once((f) => ({ ...f, data: new Uint8Array(7) }));
    const errors: string[] = [];
    camera.on('frame-error', (e) => errors.push(e.code));
    const it = camera.frames();
    const good = await it.next();
    expect(good.value?.data.length).toBe(640 * 480);
    expect(errors).toEqual(['FRAME_TRUNCATED']);
    expect(camera.stats.rejected).toBe(3);
    await it.return(undefined);
    await camera.stop();
  });

  it('gives up after too many bad frames in a row', async () => {
    const clock = new ManualClock();
    const sim = new SimCamera({ clock, scene });
    const camera = new Camera({ source: sim.source, maxConsecutiveBadFrames: 3 });
    sim.source.faults.next = (f) => ({ ...f, data: f.data.subarray(0, 10) });
    await camera.start();
    const run = async () => {
      for await (const _ of camera.frames()) {
        /* nothing valid arrives */
      }
    };
    await expect(run()).rejects.toMatchObject({ code: 'FRAME_TRUNCATED' });
    await camera.stop();
  });

  it('capture death rejects next() with CAPTURE_DIED; start failure surfaces as is', async () => {
    const { sim, camera } = rig(300);
    await camera.start();
    await camera.next();
    const p = camera.next();
    sim.source.die(1, 'rpicam-vid: no cameras available');
    await expect(p).rejects.toMatchObject({ code: 'CAPTURE_DIED' });
    await expect(camera.next()).rejects.toMatchObject({ code: 'CAPTURE_DIED' });
  });

  it('frameLuma measures the centre mean and clipping', () => {
    const d = new Uint8Array(100 * 100).fill(255);
    expect(frameLuma(d, 100, 100)).toEqual({ meanY: 255, clipped: 1 });
  });
});
