/**
 * A simulated R307 with two faces (STYLE habit 4).
 *
 * Bus face: `attach(uart)` serves the R307 protocol on any `Uart` - the device end of
 * `createSimUartPair()`, or a real serial device / pty through the Linux serialport
 * Uart. It reassembles commands from arbitrary chunks (one byte per write included),
 * answers every command with exactly one full-length ack (even on error), streams
 * module->host data at the configured packet size (0x02 ... 0x08), never acks host
 * data packets, puts its address in every reply, sends nothing unsolicited, and
 * paces its output at the configured baud on the injected clock (wire-time pacing),
 * so over a pty a transfer takes as long as on a real 57600-baud line.
 *
 * Control face: `placeFinger(name, {quality, offset})`, `liftFinger()`, `unplug()`,
 * `plugIn()`, `powerCycle()`, library/parameter inspection, and `faults` - per-
 * operation overrides (`command`, `reply`) that fall through with PASS, plus helpers
 * (`corruptReply`, `dropReply`, `answerAs`, `truncateStream`).
 *
 * Timings (capture, extraction, search time growing with library size, flash writes,
 * power-up) come from `R307_TIMINGS` and run on the injected Clock: `ManualClock` in
 * tests (instant), `systemClock` in benches and `handset sim r307`.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { type Clock, systemClock } from '../core/clock';
import { type FaultTable, PASS } from '../transport/sim/fault';
import type { SimGpioLine } from '../transport/sim/gpio';
import { SimUart } from '../transport/sim/uart';
import { type Uart, uartWireTimeMs } from '../transport/uart';
import {
  decodeFeatures,
  encodeFeatures,
  extract,
  hashString,
  MATCH_THRESHOLDS,
  type Minutia,
  matchScore,
  mergeMinutiae,
  type Press,
  renderImage,
} from './fingers';
import { R307Parser } from './parser';
import {
  Confirmation,
  DataAssembler,
  DEFAULT_ADDRESS,
  DEFAULT_BAUD_MULTIPLIER,
  DEFAULT_PASSWORD,
  DEFAULT_SECURITY_LEVEL,
  encodeAck,
  encodePacket,
  encodeSystemParameters,
  IMAGE_BYTES,
  INDEX_TABLE_PAGE_BYTES,
  INDEX_TABLE_PAGES,
  INSTRUCTIONS,
  Instruction,
  NOTEPAD_PAGE_BYTES,
  NOTEPAD_PAGES,
  type Packet,
  Pid,
  packetSizeFromCode,
  R307_CAPACITY,
  readU16,
  readU32,
  StatusFlag,
  SysParam,
  splitData,
  TEMPLATE_BYTES,
  u16,
  u32,
} from './protocol';

/** Simulated durations in ms (datasheet figures where the R307 summary gives them). */
export interface R307Timings {
  /** Initialisation after power-up; commands are ignored meanwhile (ZFM: ~500 ms). */
  powerUp: number;
  /** GenImg with a finger (R307: capture < 0.3 s). */
  capture: number;
  /** GenImg on an empty sensor. */
  captureEmpty: number;
  /** Img2Tz feature extraction. */
  extract: number;
  match: number;
  /** Search: base + perTemplate x templates compared (R307: < 1 s mean at 1:1000). */
  searchBase: number;
  searchPerTemplate: number;
  regModel: number;
  /** One flash page write (Store, notepad, parameters, password, address). */
  flashWrite: number;
  loadChar: number;
  deletePerPage: number;
  empty: number;
  /** Any other command. */
  command: number;
}

export const R307_TIMINGS: R307Timings = {
  powerUp: 500,
  capture: 200,
  captureEmpty: 40,
  extract: 150,
  match: 20,
  searchBase: 5,
  searchPerTemplate: 0.9,
  regModel: 60,
  flashWrite: 30,
  loadChar: 10,
  deletePerPage: 0.5,
  empty: 200,
  command: 1,
};

export const INSTANT_TIMINGS: R307Timings = Object.fromEntries(
  Object.keys(R307_TIMINGS).map((k) => [k, 0]),
) as unknown as R307Timings;

/** What the module keeps in flash: survives power cycles (and processes, with a file store). */
export interface R307FlashState {
  address: number;
  password: number;
  baudMultiplier: number;
  securityLevel: number;
  packetSizeCode: number;
  /** slot -> 512-byte template, hex. */
  library: Record<string, string>;
  /** 16 pages of 32 bytes, hex. */
  notepad: string[];
}

/** Where the simulated flash lives. */
export interface R307Store {
  load(): Promise<R307FlashState | undefined>;
  save(state: R307FlashState): Promise<void>;
}

/** Flash kept in memory: survives power cycles of the same SimR307 (the default). */
export class MemoryR307Store implements R307Store {
  state: R307FlashState | undefined;
  async load() {
    return this.state && copyFlash(this.state);
  }
  async save(state: R307FlashState) {
    this.state = copyFlash(state);
  }
}

/** Flash kept in a JSON file (atomic replace): survives restarts of `handset sim r307 --state FILE`. */
export class FileR307Store implements R307Store {
  constructor(readonly path: string) {}
  async load(): Promise<R307FlashState | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as R307FlashState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  async save(state: R307FlashState): Promise<void> {
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, this.path);
  }
}

/** A copy that shares no mutable parts (hex strings are immutable). */
function copyFlash(s: R307FlashState): R307FlashState {
  return { ...s, library: { ...s.library }, notepad: [...s.notepad] };
}

export function factoryFlash(): R307FlashState {
  return {
    address: DEFAULT_ADDRESS,
    password: DEFAULT_PASSWORD,
    baudMultiplier: DEFAULT_BAUD_MULTIPLIER,
    securityLevel: DEFAULT_SECURITY_LEVEL,
    packetSizeCode: 2,
    library: {},
    notepad: Array.from({ length: NOTEPAD_PAGES }, () => '00'.repeat(NOTEPAD_PAGE_BYTES)),
  };
}

/** A decoded command as the fault overrides see it. */
export interface SimCommand {
  instruction: number;
  params: Uint8Array;
}

/** How the module answers: a confirmation code, return values, and module->host data. */
export interface SimResponse {
  code: number;
  returns?: ArrayLike<number>;
  /** Streamed as data packets after a 0x00 ack. */
  data?: Uint8Array;
  /** Address to put in the ack (SetAdder acks with the new one). */
  address?: number;
}

export interface SimReplyInfo {
  instruction: number;
  kind: 'ack' | 'data';
  /** 0 for the ack; 0.. for data packets. */
  index: number;
  /** The last packet of this reply (the ack without data, or the 0x08 packet). */
  last: boolean;
}

/** Operations a fault override can intercept (return PASS to fall through). */
export interface SimR307Ops {
  /** Before a command runs: return a response to send instead, or 'ignore' to send nothing. */
  command: (cmd: SimCommand) => SimResponse | 'ignore';
  /** Each encoded outgoing packet: return replacement bytes, or null to drop the packet. */
  reply: (bytes: Uint8Array, info: SimReplyInfo) => Uint8Array | null;
}

export interface PlaceFingerOptions {
  /** 0..1; below 0.25 Img2Tz says "too messy" (0x06); few features -> 0x07. Default 0.9. */
  quality?: number;
  /** Placement offset in pixels. */
  offset?: { dx?: number; dy?: number };
  /**
   * 'steady' (default): present until liftFinger(). 'alternate': present for one
   * GenImg, absent for the next, present again, ... (`handset sim r307 --finger`).
   */
  presence?: 'steady' | 'alternate';
}

export interface SimR307Options {
  clock?: Clock;
  /** Flash backing; default a private MemoryR307Store. */
  store?: R307Store;
  timings?: Partial<R307Timings>;
  /** Pace output (and account input) at the line's wire time on the clock; default true. */
  pace?: boolean;
  /** Library capacity reported and enforced; default 1000. */
  capacity?: number;
  /** 'after-ack' (default): a baud change applies right after the ack; 'power-cycle': at the next power-up. */
  baudChange?: 'after-ack' | 'power-cycle';
  /** R503 behaviour: send 0x55 when ready after power-up. Default false (R307 sends nothing). */
  readyByte?: boolean;
  /**
   * The touch output's wire. Like the module's TOUCH pin (schematics: "low = finger
   * present"), it is driven low while a finger rests and high otherwise.
   */
  touch?: SimGpioLine;
  /**
   * Speed the other end of the line talks at, if knowable (default: the peer of a
   * SimUart). When it differs from the module's, input is line noise and ignored.
   */
  peerBaud?: () => number | undefined;
  /** Seed for GetRandomCode; default crypto randomness. */
  randomSeed?: number;
  /** Start powered (default true; power-up time still applies). */
  powered?: boolean;
}

/** One executed command, for assertions and the bench's "sensor's own time". */
export interface SimCommandRecord {
  instruction: number;
  code: number;
  /** Clock time the command's last chunk was read from the port (before its wire time is accounted). */
  readAt: number;
  /** Clock time the command was complete on the line. */
  receivedAt: number;
  /** Clock time the last reply byte left (NaN until then; the record is added when the reply starts). */
  doneAt: number;
}

type QueueItem = ({ packet: Packet } | { corrupt: true }) & { at: number; readAt: number };

interface CharBuffer {
  kind: 'empty' | 'features' | 'template' | 'raw';
  bytes: Uint8Array;
}

interface ImageBuffer {
  press: Press | undefined;
  pixels?: Uint8Array;
}

interface Finger {
  name: string;
  quality: number;
  dx: number;
  dy: number;
  presence: 'steady' | 'alternate';
}

/**
 * The simulated R307. Create it, `attach(uart)`, drive it with the control face.
 */
export class SimR307 {
  readonly clock: Clock;
  /** Fault overrides (PASS falls through). */
  faults: FaultTable<SimR307Ops> = {};
  /** Executed commands, oldest first (capped at 10,000). */
  readonly history: SimCommandRecord[] = [];
  readonly capacity: number;
  private readonly store: R307Store;
  private readonly timing: R307Timings;
  private readonly pace: boolean;
  private readonly baudChange: 'after-ack' | 'power-cycle';
  private readonly readyByte: boolean;
  private readonly touch: SimGpioLine | undefined;
  private peerBaud: (() => number | undefined) | undefined;
  private readonly rng: () => number;
  private uart: Uart | undefined;
  private readonly parser = new R307Parser();
  private flash: R307FlashState = factoryFlash();
  private activeBaud = 9600 * DEFAULT_BAUD_MULTIPLIER;
  private powered = false;
  private ready = false;
  private epoch = 0;
  private portEnabled = true;
  private pwdVerified = false;
  private passFlag = false;
  private char: [CharBuffer, CharBuffer] = [emptyBuffer(), emptyBuffer()];
  private image: ImageBuffer | undefined;
  private finger: Finger | undefined;
  private genImgCount = 0;
  private pressSeq = 0;
  private receiving: { instruction: number; buffer: 0 | 1; asm: DataAssembler } | undefined;
  private readonly queue: Array<QueueItem> = [];
  private lastReadAt = 0;
  private working = false;
  private rxFree = 0;
  private txFree = 0;
  /** When the current command's processing is over (virtual: no sleep until a reply must go out). */
  private due = 0;
  private reading = false;
  private readLoopDone: Promise<void> = Promise.resolve();
  private powerUpDone: Promise<void> = Promise.resolve();
  private renderedImages = new Map<string, Press>();

  constructor(options: SimR307Options = {}) {
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemoryR307Store();
    this.timing = { ...R307_TIMINGS, ...options.timings };
    this.pace = options.pace ?? true;
    this.capacity = options.capacity ?? R307_CAPACITY;
    this.baudChange = options.baudChange ?? 'after-ack';
    this.readyByte = options.readyByte ?? false;
    this.touch = options.touch;
    this.touch?.setLevel(1);
    this.peerBaud = options.peerBaud;
    const seeded = options.randomSeed === undefined ? undefined : lcg(options.randomSeed);
    this.rng = seeded ?? (() => randomBytes(4).readUInt32BE(0) / 4294967296);
    this.parser.on('packet', (packet) => this.enqueue({ packet, at: this.rxFree, readAt: this.lastReadAt }));
    this.parser.on('badChecksum', (e) => {
      if (e.pid === Pid.Command && e.address === this.flash.address)
        this.enqueue({ corrupt: true, at: this.rxFree, readAt: this.lastReadAt });
    });
    if (options.powered !== false) this.powerUpDone = this.powerOn();
  }

  // ------------------------------------------------------------------ bus face

  /** Serves the protocol on `uart` (opened if needed). Resolves once serving; see `ready()`. */
  async attach(uart: Uart): Promise<void> {
    if (this.uart) throw new Error('SimR307 is already attached');
    this.uart = uart;
    if (!uart.isOpen) await uart.open();
    if (uart.baudRate !== this.activeBaud) await uart.setBaudRate(this.activeBaud);
    if (!this.peerBaud && uart instanceof SimUart) this.peerBaud = () => uart.peer?.baudRate;
    this.reading = true;
    this.readLoopDone = this.readLoop(uart);
  }

  /** Stops serving and closes the port. */
  async detach(): Promise<void> {
    const uart = this.uart;
    if (!uart) return;
    this.reading = false;
    this.epoch++;
    this.uart = undefined;
    await uart.close();
    await this.readLoopDone;
  }

  /** Resolves once the module has finished initialising after the last power-up. */
  whenReady(): Promise<void> {
    return this.powerUpDone;
  }

  // ------------------------------------------------------------------ control face

  /** Puts finger `name` on the sensor (replacing any other). */
  placeFinger(name: string, options: PlaceFingerOptions = {}): void {
    this.finger = {
      name,
      quality: options.quality ?? 0.9,
      dx: options.offset?.dx ?? 0,
      dy: options.offset?.dy ?? 0,
      presence: options.presence ?? 'steady',
    };
    this.genImgCount = 0;
    this.touch?.setLevel(0);
  }

  /** Takes the finger off the sensor. */
  liftFinger(): void {
    this.finger = undefined;
    this.touch?.setLevel(1);
  }

  /** The finger on the sensor now, if any. */
  get fingerOnSensor(): string | undefined {
    return this.finger?.name;
  }

  /** Cuts power: the module falls silent at once (mid-transfer too) and loses its RAM buffers. */
  unplug(): void {
    this.powered = false;
    this.ready = false;
    this.epoch++;
    this.queue.length = 0;
    this.receiving = undefined;
    this.parser.reset();
  }

  /** Restores power: flash is reloaded, commands are ignored for `powerUp` ms. */
  plugIn(): Promise<void> {
    if (this.powered) return this.powerUpDone;
    this.powerUpDone = this.powerOn();
    return this.powerUpDone;
  }

  /** unplug() + plugIn(). Pending baud changes take effect here. */
  powerCycle(): Promise<void> {
    this.unplug();
    return this.plugIn();
  }

  get isPowered(): boolean {
    return this.powered;
  }

  /** The module's line speed now. */
  get baudRate(): number {
    return this.activeBaud;
  }

  /** The module address (flash). */
  get address(): number {
    return this.flash.address;
  }

  /** Occupied library slots, ascending. */
  templates(): number[] {
    return Object.keys(this.flash.library)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The 512-byte template at `slot`, if any. */
  template(slot: number): Uint8Array | undefined {
    const hex = this.flash.library[slot];
    return hex === undefined ? undefined : fromHex(hex);
  }

  /** A copy of the flash state (address, password, settings, library, notepad). */
  flashState(): R307FlashState {
    return copyFlash(this.flash);
  }

  /**
   * The normal response to a command, with its side effects (used by the bus face,
   * and by fault helpers such as `answerAs` that answer one command as if it were another).
   */
  async respond(cmd: SimCommand): Promise<SimResponse> {
    return this.execute(cmd.instruction, cmd.params);
  }

  // ------------------------------------------------------------------ internals

  private async powerOn(): Promise<void> {
    const epoch = ++this.epoch;
    this.powered = true;
    this.ready = false;
    this.char = [emptyBuffer(), emptyBuffer()];
    this.image = undefined;
    this.pwdVerified = false;
    this.passFlag = false;
    this.portEnabled = true;
    this.receiving = undefined;
    this.flash = (await this.store.load()) ?? factoryFlash();
    this.activeBaud = 9600 * this.flash.baudMultiplier;
    if (this.uart?.isOpen && this.uart.baudRate !== this.activeBaud) await this.uart.setBaudRate(this.activeBaud);
    await this.clock.sleep(this.timing.powerUp);
    if (epoch !== this.epoch) return;
    this.parser.reset();
    this.ready = true;
    if (this.readyByte && this.uart?.isOpen) await this.uart.write(Uint8Array.of(0x55)).catch(() => undefined);
  }

  private async readLoop(uart: Uart): Promise<void> {
    while (this.reading) {
      let chunk: Uint8Array;
      try {
        chunk = await uart.read();
      } catch {
        this.reading = false;
        return;
      }
      if (!this.powered || !this.ready || !this.portEnabled) continue;
      const peer = this.peerBaud?.();
      if (peer !== undefined && peer !== this.activeBaud) continue; // framing errors: noise
      const now = this.clock.monotonic();
      this.lastReadAt = now;
      this.rxFree = this.pace ? Math.max(now, this.rxFree) + uartWireTimeMs(chunk.length, this.activeBaud) : now;
      this.parser.push(chunk);
    }
  }

  private enqueue(item: QueueItem): void {
    if ('packet' in item && (item.packet.pid === Pid.Data || item.packet.pid === Pid.EndData)) {
      this.receiveData(item.packet);
      return;
    }
    if ('packet' in item && item.packet.pid !== Pid.Command) return;
    this.queue.push(item);
    if (!this.working) void this.work();
  }

  private receiveData(packet: Packet): void {
    const r = this.receiving;
    if (!r) return;
    if (r.asm.push(packet)) {
      this.receiving = undefined;
      const data = r.asm.result();
      if (r.instruction === Instruction.DownImage) {
        const pixels = fit(data, IMAGE_BYTES);
        this.image = { press: this.renderedImages.get(hashBytes(pixels)), pixels };
      } else {
        this.char[r.buffer] = { kind: 'raw', bytes: fit(data, TEMPLATE_BYTES) };
      }
    }
  }

  private async work(): Promise<void> {
    this.working = true;
    try {
      while (this.queue.length) {
        const item = this.queue.shift()!;
        const epoch = this.epoch;
        this.due = Math.max(this.clock.monotonic(), item.at);
        if (epoch !== this.epoch || !this.powered) continue;
        if ('corrupt' in item) {
          await this.sendAck(0, { code: Confirmation.PacketReceive }, epoch);
          continue;
        }
        this.receiving = undefined;
        await this.handle(item.packet, epoch, item.readAt);
      }
    } finally {
      this.working = false;
    }
  }

  private async handle(packet: Packet, epoch: number, readAt: number): Promise<void> {
    const instruction = packet.content[0] ?? 0;
    const cmd: SimCommand = { instruction, params: packet.content.subarray(1) };
    const receivedAt = this.clock.monotonic();
    let response: SimResponse | 'ignore' | undefined;
    const f = this.faults.command;
    if (f) {
      const r = await f(cmd);
      if (r !== PASS) response = r;
    }
    if (response === undefined) {
      if (this.flash.password !== DEFAULT_PASSWORD && !this.pwdVerified && instruction !== Instruction.VfyPwd)
        response = { code: Confirmation.PasswordRequired };
      else response = await this.execute(instruction, cmd.params);
    }
    if (epoch !== this.epoch || response === 'ignore') return;
    const record: SimCommandRecord = { instruction, code: response.code, readAt, receivedAt, doneAt: Number.NaN };
    this.history.push(record);
    if (this.history.length > 10000) this.history.splice(0, this.history.length - 10000);
    await this.sendAck(instruction, response, epoch);
    if (response.code === Confirmation.Ok && response.data && epoch === this.epoch)
      await this.sendData(instruction, response.data, epoch);
    if (response.code === Confirmation.Ok && epoch === this.epoch) await this.afterAck(instruction, cmd.params);
    record.doneAt = this.clock.monotonic();
  }

  /** Effects that happen after the ack went out with the old settings. */
  private async afterAck(instruction: number, params: Uint8Array): Promise<void> {
    const info = INSTRUCTIONS.get(instruction);
    if (info?.downloads) this.receiving = { instruction, buffer: params[0] === 1 ? 0 : 1, asm: new DataAssembler() };
    if (instruction === Instruction.SetSysPara && params[0] === SysParam.BaudRate && this.baudChange === 'after-ack') {
      this.activeBaud = 9600 * (params[1] ?? DEFAULT_BAUD_MULTIPLIER);
      await this.uart?.drain().catch(() => undefined);
      if (this.uart?.isOpen) await this.uart.setBaudRate(this.activeBaud);
    }
    if (instruction === Instruction.Control && params[0] === 0) this.portEnabled = false;
  }

  private async sendAck(instruction: number, r: SimResponse, epoch: number): Promise<void> {
    const expected = INSTRUCTIONS.get(instruction)?.ackContent ?? 1;
    const returns = Array.from(r.returns ?? []);
    while (1 + returns.length < expected) returns.push(0);
    const bytes = encodeAck(r.address ?? this.flash.address, r.code, returns);
    await this.emitPacket(bytes, { instruction, kind: 'ack', index: 0, last: !(r.data && r.code === 0) }, epoch);
  }

  private async sendData(instruction: number, data: Uint8Array, epoch: number): Promise<void> {
    const parts = splitData(data, packetSizeFromCode(this.flash.packetSizeCode));
    for (const [index, p] of parts.entries()) {
      if (epoch !== this.epoch) return;
      const bytes = encodePacket({ address: this.flash.address, ...p });
      await this.emitPacket(bytes, { instruction, kind: 'data', index, last: p.pid === Pid.EndData }, epoch);
    }
  }

  private async emitPacket(bytes: Uint8Array, info: SimReplyInfo, epoch: number): Promise<void> {
    let out: Uint8Array | null = bytes;
    const f = this.faults.reply;
    if (f) {
      const r = await f(bytes, info);
      if (r !== PASS) out = r;
    }
    if (!out || epoch !== this.epoch) return;
    const uart = this.uart;
    if (!uart?.isOpen) return;
    // Processing time and wire time are accounted on a schedule and slept once per
    // packet: the ack goes out when processing is over and the line is free; a reply's
    // data packets follow back to back, each scheduled after the previous one, so timer
    // and write latency never accumulate into a stream.
    const now = this.clock.monotonic();
    const first = info.kind === 'ack';
    let until = first ? Math.max(now, this.due) : now;
    if (this.pace) {
      const start = first ? Math.max(until, this.txFree) : this.txFree;
      this.txFree = start + uartWireTimeMs(out.length, this.activeBaud);
      until = this.txFree;
    }
    if (until > now) await this.clock.sleep(until - now);
    if (epoch !== this.epoch) return;
    await uart.write(out).catch(() => undefined);
  }

  /** Adds processing time; it is slept before the ack goes out (see emitPacket). */
  private async busy(ms: number): Promise<void> {
    this.due = Math.max(this.due, this.clock.monotonic()) + ms;
  }

  private async persist(): Promise<void> {
    await this.store.save(this.flash);
  }

  private threshold(): number {
    return MATCH_THRESHOLDS[this.flash.securityLevel as 1 | 2 | 3 | 4 | 5] ?? MATCH_THRESHOLDS[3];
  }

  private features(buffer: number): Minutia[] | undefined {
    const b = this.char[buffer];
    return b && b.kind !== 'empty' ? decodeFeatures(b.bytes) : undefined;
  }

  /** Normal behaviour of every instruction the R307 implements. */
  private async execute(instruction: number, p: Uint8Array): Promise<SimResponse> {
    const t = this.timing;
    const ok = (returns?: ArrayLike<number>, data?: Uint8Array): SimResponse => ({ code: Confirmation.Ok, returns, data });
    const fail = (code: number): SimResponse => ({ code });
    const bufferIndex = (id: number | undefined): 0 | 1 => (id === 1 ? 0 : 1);
    switch (instruction) {
      case Instruction.GenImg: {
        const f = this.finger;
        const present = f !== undefined && (f.presence === 'steady' || this.genImgCount++ % 2 === 0);
        if (!present || !f) {
          await this.busy(t.captureEmpty);
          return fail(Confirmation.NoFinger);
        }
        await this.busy(t.capture);
        this.image = { press: { finger: f.name, quality: f.quality, dx: f.dx, dy: f.dy, seq: this.pressSeq++ } };
        return ok();
      }
      case Instruction.Img2Tz: {
        await this.busy(t.extract);
        const img = this.image;
        if (!img) return fail(Confirmation.NoValidImage);
        if (!img.press) return fail(Confirmation.TooFewFeatures);
        const r = extract(img.press);
        if (r.code !== Confirmation.Ok || !r.minutiae) return fail(r.code);
        this.char[bufferIndex(p[0])] = { kind: 'features', bytes: fit(encodeFeatures(r.minutiae, 1), TEMPLATE_BYTES) };
        return ok();
      }
      case Instruction.Match: {
        await this.busy(t.match);
        const a = this.features(0);
        const b = this.features(1);
        const score = a && b ? matchScore(a, b) : 0;
        this.passFlag = score >= this.threshold();
        return { code: this.passFlag ? Confirmation.Ok : Confirmation.NoMatch, returns: u16(score) };
      }
      case Instruction.Search:
      case Instruction.HighSpeedSearch: {
        const probe = this.features(bufferIndex(p[0]));
        const start = readU16(p, 1);
        const count = readU16(p, 3);
        const end = Math.min(this.capacity, start + count);
        let compared = 0;
        let hit: { slot: number; score: number } | undefined;
        if (probe)
          for (const slot of this.templates()) {
            if (slot < start || slot >= end) continue;
            compared++;
            const stored = decodeFeatures(fromHex(this.flash.library[slot]!));
            const score = stored ? matchScore(probe, stored) : 0;
            if (score >= this.threshold()) {
              hit = { slot, score };
              break;
            }
          }
        await this.busy(t.searchBase + t.searchPerTemplate * compared);
        this.passFlag = hit !== undefined;
        if (!hit) return { code: Confirmation.NotFound, returns: [0, 0, 0, 0] };
        return ok([...u16(hit.slot), ...u16(hit.score)]);
      }
      case Instruction.RegModel: {
        await this.busy(t.regModel);
        const a = this.features(0);
        const b = this.features(1);
        const merged = a && b ? mergeMinutiae(a, b) : undefined;
        if (!merged) return fail(Confirmation.MergeFailed);
        const tpl = encodeFeatures(merged, 2);
        this.char = [
          { kind: 'template', bytes: tpl },
          { kind: 'template', bytes: tpl.slice() },
        ];
        return ok();
      }
      case Instruction.Store: {
        const page = readU16(p, 1);
        if (page >= this.capacity) return fail(Confirmation.PageOutOfRange);
        await this.busy(t.flashWrite);
        this.flash.library[page] = toHex(this.char[bufferIndex(p[0])].bytes);
        await this.persist();
        return ok();
      }
      case Instruction.LoadChar: {
        const page = readU16(p, 1);
        if (page >= this.capacity) return fail(Confirmation.PageOutOfRange);
        await this.busy(t.loadChar);
        const hex = this.flash.library[page];
        if (hex === undefined) return fail(Confirmation.TemplateReadError);
        this.char[bufferIndex(p[0])] = { kind: 'template', bytes: fromHex(hex) };
        return ok();
      }
      case Instruction.UpChar:
        return ok([], this.char[bufferIndex(p[0])].bytes.slice());
      case Instruction.DownChar:
      case Instruction.DownImage:
        return ok();
      case Instruction.UpImage: {
        const img = this.image;
        if (!img) return fail(Confirmation.UpImageFailed);
        if (!img.pixels) {
          img.pixels = renderImage(img.press);
          if (img.press) this.renderedImages.set(hashBytes(img.pixels), img.press);
          if (this.renderedImages.size > 32) this.renderedImages.delete(this.renderedImages.keys().next().value as string);
        }
        return ok([], img.pixels.slice());
      }
      case Instruction.DeleteChar: {
        const page = readU16(p, 0);
        const n = readU16(p, 2);
        if (n === 0 || page >= this.capacity || page + n > this.capacity) return fail(Confirmation.DeleteFailed);
        await this.busy(t.flashWrite + t.deletePerPage * n);
        for (let s = page; s < page + n; s++) delete this.flash.library[s];
        await this.persist();
        return ok();
      }
      case Instruction.Empty:
        await this.busy(t.empty);
        this.flash.library = {};
        await this.persist();
        return ok();
      case Instruction.SetSysPara: {
        const [param, value = 0] = [p[0], p[1]];
        const valid =
          param === SysParam.BaudRate
            ? value >= 1 && value <= 12
            : param === SysParam.SecurityLevel
              ? value >= 1 && value <= 5
              : param === SysParam.PacketSize
                ? value <= 3
                : undefined;
        if (valid === undefined) return fail(Confirmation.InvalidRegister);
        if (!valid) return fail(Confirmation.WrongRegisterConfig);
        await this.busy(t.flashWrite);
        // Security level and packet size: from the next command on (the ack below is
        // already built). Baud: stored now, applied after the ack or at power-up.
        if (param === SysParam.BaudRate) this.flash.baudMultiplier = value;
        if (param === SysParam.SecurityLevel) this.flash.securityLevel = value;
        if (param === SysParam.PacketSize) this.flash.packetSizeCode = value;
        await this.persist();
        return ok();
      }
      case Instruction.ReadSysPara: {
        await this.busy(t.command);
        const status =
          (this.pwdVerified || this.flash.password === DEFAULT_PASSWORD ? StatusFlag.PasswordVerified : 0) |
          (this.passFlag ? StatusFlag.Pass : 0) |
          (this.image ? StatusFlag.ImageBufferValid : 0);
        return ok(
          encodeSystemParameters({
            status,
            systemId: 0,
            capacity: this.capacity,
            securityLevel: this.flash.securityLevel,
            address: this.flash.address,
            packetSize: packetSizeFromCode(this.flash.packetSizeCode),
            baudRate: 9600 * this.flash.baudMultiplier,
          }),
        );
      }
      case Instruction.SetPwd:
        await this.busy(t.flashWrite);
        this.flash.password = readU32(p, 0);
        this.pwdVerified = true;
        await this.persist();
        return ok();
      case Instruction.VfyPwd:
        await this.busy(t.command);
        if (readU32(p, 0) !== this.flash.password) return fail(Confirmation.WrongPassword);
        this.pwdVerified = true;
        return ok();
      case Instruction.GetRandomCode:
        await this.busy(t.command);
        return ok(u32(Math.floor(this.rng() * 4294967296)));
      case Instruction.SetAdder: {
        await this.busy(t.flashWrite);
        this.flash.address = readU32(p, 0);
        await this.persist();
        return { code: Confirmation.Ok, address: this.flash.address };
      }
      case Instruction.ReadInfPage: {
        await this.busy(t.command);
        const page = new Uint8Array(512);
        page.set(new TextEncoder().encode('Handset simulated R307 fingerprint module; capacity 1000; 256x288 4bpp'));
        return ok([], page);
      }
      case Instruction.Control:
        await this.busy(t.command);
        return ok();
      case Instruction.WriteNotepad: {
        const page = p[0] ?? 0;
        if (page >= NOTEPAD_PAGES) return fail(Confirmation.WrongNotepadPage);
        await this.busy(t.flashWrite);
        this.flash.notepad[page] = toHex(fit(p.subarray(1), NOTEPAD_PAGE_BYTES));
        await this.persist();
        return ok();
      }
      case Instruction.ReadNotepad: {
        const page = p[0] ?? 0;
        if (page >= NOTEPAD_PAGES) return { code: Confirmation.WrongNotepadPage, returns: new Uint8Array(NOTEPAD_PAGE_BYTES) };
        await this.busy(t.command);
        return ok(fromHex(this.flash.notepad[page] ?? ''));
      }
      case Instruction.TemplateNum:
        await this.busy(t.command);
        return ok(u16(this.templates().length));
      case Instruction.ReadIndexTable: {
        const page = p[0] ?? 0;
        await this.busy(t.command);
        const bits = new Uint8Array(INDEX_TABLE_PAGE_BYTES);
        if (page >= INDEX_TABLE_PAGES) return { code: Confirmation.PageOutOfRange, returns: bits };
        for (const slot of this.templates()) {
          const rel = slot - 256 * page;
          if (rel >= 0 && rel < 256) bits[rel >> 3]! |= 1 << (rel & 7);
        }
        return ok(bits);
      }
      default:
        // Instructions of other family members (R503 auto commands, LEDs, GetEcho):
        // an R307 answers them as a packet it could not process.
        await this.busy(t.command);
        return fail(Confirmation.PacketReceive);
    }
  }
}

// ---------------------------------------------------------------------------------
// Fault helpers: each returns a one-shot override for `sim.faults.<op>`.

/** Corrupts the checksum of the next matching outgoing packet. */
export function corruptReply(
  filter: Partial<Pick<SimReplyInfo, 'instruction' | 'kind' | 'index'>> = {},
): NonNullable<FaultTable<SimR307Ops>['reply']> {
  let used = false;
  return (bytes: Uint8Array, info: SimReplyInfo) => {
    if (used || !matches(info, filter)) return PASS;
    used = true;
    const out = bytes.slice();
    out[out.length - 1]! ^= 0x5a;
    return out;
  };
}

/** Drops the next matching outgoing packet. */
export function dropReply(
  filter: Partial<Pick<SimReplyInfo, 'instruction' | 'kind' | 'index'>> = {},
): NonNullable<FaultTable<SimR307Ops>['reply']> {
  let used = false;
  return (_bytes: Uint8Array, info: SimReplyInfo) => {
    if (used || !matches(info, filter)) return PASS;
    used = true;
    return null;
  };
}

/** Ends the next data stream after `packets` data packets (the rest, 0x08 included, never leave). */
export function truncateStream(packets: number): NonNullable<FaultTable<SimR307Ops>['reply']> {
  let state: 'armed' | 'cutting' | 'done' = 'armed';
  return (_bytes: Uint8Array, info: SimReplyInfo) => {
    if (state === 'done' || info.kind !== 'data') return PASS;
    state = 'cutting';
    if (info.last) state = 'done';
    return info.index < packets ? PASS : null;
  };
}

/** Answers the next command (optionally only `onlyFor`) as if it had been `instruction` - a reply to the wrong command. */
export function answerAs(sim: SimR307, instruction: number, onlyFor?: number): NonNullable<FaultTable<SimR307Ops>['command']> {
  let used = false;
  return async (cmd: SimCommand) => {
    if (used || (onlyFor !== undefined && cmd.instruction !== onlyFor)) return PASS;
    used = true;
    const r = await sim.respond({ instruction, params: new Uint8Array(8) });
    // Shape the ack like the other command's (its length), not like the one asked.
    const expected = INSTRUCTIONS.get(instruction)?.ackContent ?? 1;
    const returns = Array.from(r.returns ?? []);
    while (1 + returns.length < expected) returns.push(0);
    return { ...r, returns, data: undefined };
  };
}

/** Swallows the next command (optionally only `onlyFor`): no reply at all. */
export function ignoreCommand(onlyFor?: number): NonNullable<FaultTable<SimR307Ops>['command']> {
  let used = false;
  return (cmd: SimCommand) => {
    if (used || (onlyFor !== undefined && cmd.instruction !== onlyFor)) return PASS;
    used = true;
    return 'ignore';
  };
}

function matches(info: SimReplyInfo, f: Partial<Pick<SimReplyInfo, 'instruction' | 'kind' | 'index'>>): boolean {
  return (
    (f.instruction === undefined || f.instruction === info.instruction) &&
    (f.kind === undefined || f.kind === info.kind) &&
    (f.index === undefined || f.index === info.index)
  );
}

function emptyBuffer(): CharBuffer {
  return { kind: 'empty', bytes: new Uint8Array(TEMPLATE_BYTES) };
}

function fit(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, size));
  return out;
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function hashBytes(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${h}:${b.length}`;
}

function lcg(seed: number): () => number {
  let s = hashString(`rng:${seed}`);
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
