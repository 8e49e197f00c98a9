/**
 * R307 host driver over an injected `Uart` (serialport on a device, a sim peer in
 * tests). Layers: protocol.ts (frames) -> parser.ts (stream -> packets) -> Waitress
 * (reply pairing, timeouts naming the instruction) -> this file (one command at a
 * time under a mutex, typed errors from confirmation codes, bulk transfers,
 * enrolment / verification flows).
 *
 * Link recovery: after a timeout, a corrupt or unexpected reply, the driver drops the
 * parser state and the port's input buffer and waits for a short quiet period before
 * the next command, so one bad exchange never poisons the next.
 */
import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from '../core/clock';
import { CanceledError, DeviceTimeoutError, HandsetError, TransportError, ValidationError } from '../core/errors';
import type { GpioLevel, GpioLine } from '../transport/gpio';
import { type Uart, uartWireTimeMs } from '../transport/uart';
import {
  AlreadyEnrolledError,
  DEVICE,
  ImageQualityError,
  NoFingerError,
  NotFoundError,
  R307ProtocolError,
  r307Error,
} from './errors';
import { type BadChecksumEvent, R307Parser } from './parser';
import {
  baudMultiplier,
  DataAssembler,
  DEFAULT_ADDRESS,
  DEFAULT_PACKET_SIZE,
  decodeSystemParameters,
  encodeCommand,
  encodeDataPackets,
  IMAGE_BYTES,
  INDEX_TABLE_PAGES,
  INSTRUCTIONS,
  Instruction,
  type InstructionName,
  instructionLabel,
  NOTEPAD_PAGE_BYTES,
  NOTEPAD_PAGES,
  PACKET_OVERHEAD,
  type Packet,
  type PacketSize,
  Pid,
  packetSizeCode,
  params,
  R307_CAPACITY,
  readU16,
  readU32,
  SysParam,
  type SystemParameters,
  TEMPLATE_BYTES,
} from './protocol';
import { Mutex, Waitress } from './waitress';

/** Default reply timeouts (ms) per instruction; the command+reply wire time is added. */
export const DEFAULT_TIMEOUTS: Partial<Record<InstructionName, number>> & { default: number } = {
  default: 1000,
  GenImg: 2000,
  Img2Tz: 2000,
  Match: 1500,
  Search: 3000,
  HighSpeedSearch: 3000,
  RegModel: 2000,
  Store: 2000,
  DeleteChar: 2000,
  Empty: 3000,
  SetSysPara: 1500,
  WriteNotepad: 1500,
};

export interface R307Options {
  /** The serial line to the sensor (opened by `open()` if it is not open yet). */
  uart: Uart;
  /** Module address; default FFFFFFFF. Replies for other addresses are dropped and reported. */
  address?: number;
  /** Handshake password sent by `open()` (VfyPwd); default 0. */
  password?: number;
  clock?: Clock;
  /** The sensor's touch output, when the board wires it: finger waits block on it instead of polling GenImg. */
  touch?: GpioLine;
  /** Level of `touch` while a finger is on the sensor; default 1. */
  touchActiveLevel?: GpioLevel;
  /** Per-instruction reply timeouts (ms), merged over DEFAULT_TIMEOUTS. */
  timeouts?: Partial<Record<InstructionName | 'default', number>>;
  /** Longest silence (ms) between two data packets of a bulk upload; default 1000. */
  dataIdleTimeoutMs?: number;
  /** Pause between GenImg polls while waiting for a finger (no touch line); default 100. */
  pollIntervalMs?: number;
  /** Quiet period (ms) waited during resynchronisation; default 30. */
  resyncQuietMs?: number;
}

export interface R307Events {
  /** A frame with a bad checksum was dropped. */
  badChecksum: [BadChecksumEvent];
  /** A frame for another module address was dropped. */
  wrongAddress: [Packet];
  /** Bytes skipped while looking for a packet header. */
  garbage: [number];
  /** A valid packet nobody asked for (a late reply, the tail of a broken stream). */
  discarded: [{ packet: Packet; awaited: string | undefined }];
  /** Link recovery ran before a command. */
  resync: [{ reason: string }];
}

export interface TransferProgress {
  /** Payload bytes moved so far. */
  bytes: number;
  total: number;
  packets: number;
}

export interface CommandOptions {
  signal?: AbortSignal;
  /** Overrides the reply timeout for this one call. */
  timeoutMs?: number;
}

export interface TransferOptions extends CommandOptions {
  onProgress?: (p: TransferProgress) => void;
}

export interface SearchResult {
  slot: number;
  score: number;
}

export interface VerifyResult {
  matched: boolean;
  score: number;
}

export type EnrollStep = 'place-finger' | 'lift-finger' | 'place-again' | 'retry' | 'merging' | 'stored';

export interface EnrollPrompt {
  step: EnrollStep;
  /** A sentence to show the holder. */
  message: string;
  /** Capture number (1 or 2) the prompt is about. */
  capture?: 1 | 2;
  slot?: number;
}

export interface FingerWaitOptions {
  signal?: AbortSignal;
  /** Give up after this long (ms); default 30000. */
  timeoutMs?: number;
}

export interface EnrollOptions extends FingerWaitOptions {
  onPrompt?: (prompt: EnrollPrompt) => void;
  /** Store even if the finger already matches a stored template; default false. */
  allowDuplicate?: boolean;
  /** Presses allowed per capture when the image is too poor; default 3. */
  attempts?: number;
}

export interface BaudChangeResult {
  baudRate: number;
  /** True when the module switched right after its ack; false when it applies at the next power-up. */
  applied: boolean;
}

interface Exchange {
  label: string;
  corrupt?: BadChecksumEvent;
}

interface ExchangeOptions extends CommandOptions {
  /** Return a non-zero confirmation instead of throwing. */
  noThrow?: boolean;
  upload?: { total: number; onProgress?: (p: TransferProgress) => void };
  download?: { payload: Uint8Array; onProgress?: (p: TransferProgress) => void };
}

interface ExchangeResult {
  code: number;
  content: Uint8Array;
  data?: Uint8Array;
}

/**
 * The R307 driver. Every public method is one instruction (named in its doc) or a
 * documented flow of instructions; all of them serialise on one mutex.
 */
export class R307 extends EventEmitter<R307Events> {
  readonly uart: Uart;
  readonly clock: Clock;
  private addr: number;
  private password: number;
  private readonly touch: GpioLine | undefined;
  private readonly touchActive: GpioLevel;
  private readonly timeouts: Partial<Record<InstructionName, number>> & { default: number };
  private readonly dataIdleTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly resyncQuietMs: number;
  private readonly parser: R307Parser;
  private readonly waitress: Waitress<Packet>;
  private readonly mutex = new Mutex();
  private params: SystemParameters | undefined;
  private pendingBaud: number | undefined;
  private reading = false;
  private readLoopDone: Promise<void> = Promise.resolve();
  private linkError: HandsetError | undefined;
  private needsResync = false;
  private active: Exchange | undefined;

  constructor(options: R307Options) {
    super();
    this.uart = options.uart;
    this.clock = options.clock ?? systemClock;
    this.addr = (options.address ?? DEFAULT_ADDRESS) >>> 0;
    this.password = (options.password ?? 0) >>> 0;
    this.touch = options.touch;
    this.touchActive = options.touchActiveLevel ?? 1;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.dataIdleTimeoutMs = options.dataIdleTimeoutMs ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.resyncQuietMs = options.resyncQuietMs ?? 30;
    this.parser = new R307Parser({ address: this.addr });
    this.parser.on('badChecksum', (e) => this.onBadChecksum(e));
    this.parser.on('wrongAddress', (p) => this.emit('wrongAddress', p));
    this.parser.on('garbage', (n) => this.emit('garbage', n));
    this.parser.on('packet', (p) => this.waitress.push(p));
    this.waitress = new Waitress<Packet>(this.clock, (packet, awaited) => this.emit('discarded', { packet, awaited }), DEVICE);
  }

  /** The module address used in every packet. */
  get address(): number {
    return this.addr;
  }

  /** System parameters as last read (open() reads them) and updated by the set* methods. */
  get parameters(): SystemParameters | undefined {
    return this.params;
  }

  /** A baud rate stored by setBaudRate() that the module applies at its next power-up. */
  get pendingBaudRate(): number | undefined {
    return this.pendingBaud;
  }

  /** Parser counters (packets, bad checksums, wrong addresses, garbage bytes). */
  get linkStats() {
    return { ...this.parser.stats };
  }

  /**
   * Opens the port (if needed), flushes stale input and starts reading. With
   * `handshake` (default) it then sends VfyPwd and ReadSysPara, as the CircuitPython
   * library does, and returns the parameters.
   */
  async open(options: { handshake?: boolean; signal?: AbortSignal } = {}): Promise<SystemParameters | undefined> {
    if (!this.uart.isOpen) await this.uart.open();
    await this.uart.discardInput();
    this.parser.reset();
    this.waitress.clear();
    this.linkError = undefined;
    this.needsResync = false;
    this.startReading();
    if (options.handshake === false) return undefined;
    await this.verifyPassword(this.password, options);
    return this.readSystemParameters(options);
  }

  /** Stops reading and closes the port. Pending commands fail with CanceledError. */
  async close(): Promise<void> {
    this.reading = false;
    this.waitress.rejectAll(new CanceledError('R307 driver closed', { device: DEVICE }));
    await this.uart.close();
    await this.readLoopDone;
  }

  // ---------------------------------------------------------------- instructions

  /** VfyPwd (0x13). BadPasswordError on 0x13. */
  async verifyPassword(password: number, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.VfyPwd, params.password(password), options);
    this.password = password >>> 0;
  }

  /** SetPwd (0x12): later sessions must VfyPwd with it before any other command. */
  async setPassword(password: number, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.SetPwd, params.password(u32Checked(password, 'password')), options);
    this.password = password >>> 0;
  }

  /** ReadSysPara (0x0F): the 16-byte parameter block, decoded; cached as `parameters`. */
  async readSystemParameters(options: CommandOptions = {}): Promise<SystemParameters> {
    const r = await this.exchange(Instruction.ReadSysPara, [], options);
    this.params = decodeSystemParameters(r.content.subarray(1));
    return this.params;
  }

  /** SetSysPara (0x0E) with a raw parameter number (4 baud N, 5 security level, 6 packet-size code). */
  async setSystemParameter(parameter: number, value: number, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.SetSysPara, params.setSysPara(parameter, value), options);
  }

  /** SetSysPara(5): security level 1 (most permissive) to 5 (strictest). */
  async setSecurityLevel(level: number, options: CommandOptions = {}): Promise<void> {
    if (!Number.isInteger(level) || level < 1 || level > 5)
      throw new ValidationError(`security level ${level} is not 1-5`, { device: DEVICE });
    await this.setSystemParameter(SysParam.SecurityLevel, level, options);
    if (this.params) this.params = { ...this.params, securityLevel: level };
  }

  /** SetSysPara(6): data packet payload size; applies from the next transfer (the ack uses the old size). */
  async setPacketSize(size: PacketSize, options: CommandOptions = {}): Promise<void> {
    await this.setSystemParameter(SysParam.PacketSize, packetSizeCode(size), options);
    if (this.params) this.params = { ...this.params, packetSize: size };
  }

  /**
   * SetSysPara(4): baud = 9600 x N. The module acks at the old speed. Some modules
   * switch right after the ack, the ZFM/R503 manuals say at the next power-up; so the
   * driver probes (ReadSysPara) at the new speed first and falls back to the old
   * one, and reports which happened. When it is deferred, `pendingBaudRate` is set and
   * `reconnect()` after the power cycle finds the new speed.
   */
  async setBaudRate(baudRate: number, options: CommandOptions = {}): Promise<BaudChangeResult> {
    const n = baudMultiplier(baudRate);
    const old = this.uart.baudRate;
    await this.setSystemParameter(SysParam.BaudRate, n, options);
    await this.uart.drain();
    await this.clock.sleep(250, options.signal);
    await this.uart.setBaudRate(baudRate);
    if (await this.probe(options.signal)) {
      this.pendingBaud = undefined;
      return { baudRate, applied: true };
    }
    await this.uart.setBaudRate(old);
    if (await this.probe(options.signal)) {
      this.pendingBaud = baudRate;
      if (this.params) this.params = { ...this.params, baudRate };
      return { baudRate: old, applied: false };
    }
    throw new DeviceTimeoutError(`R307 answers neither at ${baudRate} nor at ${old} baud after SetSysPara`, 500, {
      device: DEVICE,
    });
  }

  /**
   * Finds the module's speed after a power cycle: tries the current baud, a pending
   * one from setBaudRate(), then every 9600 x N. Returns the baud that answered.
   */
  async reconnect(options: { signal?: AbortSignal; candidates?: number[] } = {}): Promise<number> {
    const all = Array.from({ length: 12 }, (_, i) => 9600 * (12 - i));
    const tries = [
      ...new Set([...(options.candidates ?? []), this.uart.baudRate, ...(this.pendingBaud ? [this.pendingBaud] : []), ...all]),
    ];
    for (const baud of tries) {
      if (this.uart.baudRate !== baud) await this.uart.setBaudRate(baud);
      if (await this.probe(options.signal)) {
        this.pendingBaud = undefined;
        return baud;
      }
    }
    throw new DeviceTimeoutError('R307 does not answer at any baud rate', 500, { device: DEVICE });
  }

  /** SetAdder (0x15): the ack already carries the new address; the driver follows it. */
  async setAddress(address: number, options: CommandOptions = {}): Promise<void> {
    const next = u32Checked(address, 'address');
    this.parser.address = undefined; // the ack comes from the new address (or the old one on error)
    try {
      await this.exchange(Instruction.SetAdder, params.setAdder(next), options);
      this.addr = next;
      if (this.params) this.params = { ...this.params, address: next };
    } finally {
      this.parser.address = this.addr;
    }
  }

  /** GenImg (0x01): capture an image. NoFingerError (0x02) when the sensor is empty. */
  async captureImage(options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.GenImg, [], options);
  }

  /** Img2Tz (0x02): extract features into CharBuffer 1 or 2. ImageQualityError on a poor press. */
  async imageToTemplate(buffer: 1 | 2, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.Img2Tz, params.img2Tz(bufferChecked(buffer)), options);
  }

  /** RegModel (0x05): merge both CharBuffers into a template. EnrolMismatchError (0x0A) for different fingers. */
  async createModel(options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.RegModel, [], options);
  }

  /** Store (0x06): write a CharBuffer to a library slot. */
  async storeModel(slot: number, buffer: 1 | 2 = 1, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.Store, params.store(bufferChecked(buffer), u16Checked(slot, 'slot')), options);
  }

  /** LoadChar (0x07): read a library slot into a CharBuffer. TemplateReadError for an empty slot. */
  async loadModel(slot: number, buffer: 1 | 2 = 1, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.LoadChar, params.loadChar(bufferChecked(buffer), u16Checked(slot, 'slot')), options);
  }

  /** UpChar (0x08): the 512-byte content of a CharBuffer (module -> host). */
  async uploadTemplate(buffer: 1 | 2 = 1, options: TransferOptions = {}): Promise<Uint8Array> {
    const r = await this.exchange(Instruction.UpChar, params.upChar(bufferChecked(buffer)), {
      ...options,
      upload: { total: TEMPLATE_BYTES, onProgress: options.onProgress },
    });
    return r.data as Uint8Array;
  }

  /** DownChar (0x09): send a 512-byte template into a CharBuffer (host -> module; no ack for the data). */
  async downloadTemplate(template: Uint8Array, buffer: 1 | 2 = 1, options: TransferOptions = {}): Promise<void> {
    if (template.length !== TEMPLATE_BYTES)
      throw new ValidationError(`a template is ${TEMPLATE_BYTES} bytes, got ${template.length}`, { device: DEVICE });
    await this.exchange(Instruction.DownChar, params.downChar(bufferChecked(buffer)), {
      ...options,
      download: { payload: template, onProgress: options.onProgress },
    });
  }

  /** UpImage (0x0A): the 36,864-byte 4-bpp image buffer (module -> host); see `imageToPng`. */
  async uploadImage(options: TransferOptions = {}): Promise<Uint8Array> {
    const r = await this.exchange(Instruction.UpImage, [], {
      ...options,
      upload: { total: IMAGE_BYTES, onProgress: options.onProgress },
    });
    return r.data as Uint8Array;
  }

  /** DownImage (0x0B): send a 36,864-byte 4-bpp image into the image buffer. */
  async downloadImage(image: Uint8Array, options: TransferOptions = {}): Promise<void> {
    if (image.length !== IMAGE_BYTES)
      throw new ValidationError(`an image is ${IMAGE_BYTES} bytes, got ${image.length}`, { device: DEVICE });
    await this.exchange(Instruction.DownImage, [], { ...options, download: { payload: image, onProgress: options.onProgress } });
  }

  /** Match (0x03): compare CharBuffer1 with CharBuffer2. NotMatchedError (0x08) when different. */
  async match(options: CommandOptions = {}): Promise<number> {
    const r = await this.exchange(Instruction.Match, [], options);
    return readU16(r.content, 1);
  }

  /** Search (0x04): look up a CharBuffer in slots [start, start+count). NotFoundError (0x09) when absent. */
  async search(buffer: 1 | 2 = 1, start = 0, count?: number, options: CommandOptions = {}): Promise<SearchResult> {
    return this.searchWith(Instruction.Search, buffer, start, count, options);
  }

  /** HighSpeedSearch (0x1B): same as Search. */
  async highSpeedSearch(buffer: 1 | 2 = 1, start = 0, count?: number, options: CommandOptions = {}): Promise<SearchResult> {
    return this.searchWith(Instruction.HighSpeedSearch, buffer, start, count, options);
  }

  /** DeleteChar (0x0C): delete `count` slots from `slot`. */
  async deleteModels(slot: number, count = 1, options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.DeleteChar, params.deleteChar(u16Checked(slot, 'slot'), u16Checked(count, 'count')), options);
  }

  /** Empty (0x0D): delete every template. */
  async emptyLibrary(options: CommandOptions = {}): Promise<void> {
    await this.exchange(Instruction.Empty, [], options);
  }

  /** TemplateNum (0x1D): number of stored templates. */
  async templateCount(options: CommandOptions = {}): Promise<number> {
    const r = await this.exchange(Instruction.TemplateNum, [], options);
    return readU16(r.content, 1);
  }

  /** ReadIndexTable / ReadConList (0x1F): the 32-byte occupancy bitmap of slots 256*page .. +255. */
  async readIndexTable(page: number, options: CommandOptions = {}): Promise<Uint8Array> {
    if (!Number.isInteger(page) || page < 0 || page >= INDEX_TABLE_PAGES)
      throw new ValidationError(`index table page ${page} is not 0-3`, { device: DEVICE });
    const r = await this.exchange(Instruction.ReadIndexTable, params.readIndexTable(page), options);
    return r.content.slice(1);
  }

  /** Occupied slots, ascending (reads as many index pages as the capacity needs). */
  async listTemplates(options: CommandOptions = {}): Promise<number[]> {
    const capacity = this.params?.capacity ?? R307_CAPACITY;
    const pages = Math.min(INDEX_TABLE_PAGES, Math.ceil(capacity / 256));
    const slots: number[] = [];
    for (let p = 0; p < pages; p++) {
      const bits = await this.readIndexTable(p, options);
      bits.forEach((byte, k) => {
        for (let b = 0; b < 8; b++) if (byte & (1 << b)) slots.push(256 * p + 8 * k + b);
      });
    }
    return slots.filter((s) => s < capacity);
  }

  /** The lowest free slot, or undefined when the library is full. */
  async firstFreeSlot(options: CommandOptions = {}): Promise<number | undefined> {
    const used = new Set(await this.listTemplates(options));
    const capacity = this.params?.capacity ?? R307_CAPACITY;
    for (let s = 0; s < capacity; s++) if (!used.has(s)) return s;
    return undefined;
  }

  /** WriteNotepad (0x18): replace a 32-byte page (0-15); shorter data is zero-padded. */
  async writeNotepad(page: number, data: Uint8Array, options: CommandOptions = {}): Promise<void> {
    notepadChecked(page);
    if (data.length > NOTEPAD_PAGE_BYTES)
      throw new ValidationError(`notepad data is ${data.length} bytes; a page holds ${NOTEPAD_PAGE_BYTES}`, { device: DEVICE });
    await this.exchange(Instruction.WriteNotepad, params.writeNotepad(page, data), options);
  }

  /** ReadNotepad (0x19): a 32-byte page (0-15). */
  async readNotepad(page: number, options: CommandOptions = {}): Promise<Uint8Array> {
    notepadChecked(page);
    const r = await this.exchange(Instruction.ReadNotepad, params.readNotepad(page), options);
    return r.content.slice(1);
  }

  /** GetRandomCode (0x14): a 32-bit number from the module's hardware RNG. */
  async randomCode(options: CommandOptions = {}): Promise<number> {
    const r = await this.exchange(Instruction.GetRandomCode, [], options);
    return readU32(r.content, 1);
  }

  /**
   * Sends any instruction and returns the confirmation code and the whole ack content
   * without throwing on a non-zero code (for tools and experiments).
   */
  async rawCommand(
    instruction: number,
    parameters: ArrayLike<number> = [],
    options: CommandOptions = {},
  ): Promise<ExchangeResult> {
    return this.exchange(instruction, parameters, { ...options, noThrow: true });
  }

  // ---------------------------------------------------------------- flows

  /**
   * Waits for a finger and captures it (GenImg OK). With a touch line it blocks on
   * the line; otherwise it polls GenImg every `pollIntervalMs`.
   */
  async waitForFinger(options: FingerWaitOptions = {}): Promise<void> {
    const deadline = this.clock.monotonic() + (options.timeoutMs ?? 30000);
    for (;;) {
      this.checkAbort(options.signal);
      const left = deadline - this.clock.monotonic();
      if (left <= 0)
        throw new DeviceTimeoutError(`no finger within ${options.timeoutMs ?? 30000} ms`, options.timeoutMs ?? 30000, {
          device: DEVICE,
        });
      if (this.touch) await this.touch.waitFor(this.touchActive, left, options.signal);
      try {
        await this.captureImage({ signal: options.signal });
        return;
      } catch (err) {
        if (!(err instanceof NoFingerError)) throw err;
      }
      if (!this.touch) await this.sleep(this.pollIntervalMs, options.signal);
    }
  }

  /** Waits until the sensor is empty (GenImg answers 0x02, or the touch line goes inactive). */
  async waitForLift(options: FingerWaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30000;
    if (this.touch) {
      await this.touch.waitFor(this.touchActive === 1 ? 0 : 1, timeoutMs, options.signal);
      return;
    }
    const deadline = this.clock.monotonic() + timeoutMs;
    for (;;) {
      this.checkAbort(options.signal);
      try {
        await this.captureImage({ signal: options.signal });
      } catch (err) {
        if (err instanceof NoFingerError) return;
        throw err;
      }
      if (this.clock.monotonic() >= deadline)
        throw new DeviceTimeoutError(`finger not lifted within ${timeoutMs} ms`, timeoutMs, { device: DEVICE });
      await this.sleep(this.pollIntervalMs, options.signal);
    }
  }

  /**
   * Guided enrolment: capture -> Img2Tz(1) -> (duplicate check by Search) -> lift ->
   * capture -> Img2Tz(2) -> RegModel -> Store(1, slot). A poor press is retried up to
   * `attempts` times per capture. `slot` undefined = the first free slot. Cancellable
   * with `signal` (CanceledError; the command on the wire finishes first).
   */
  async enroll(slot: number | undefined, options: EnrollOptions = {}): Promise<{ slot: number }> {
    const prompt = (p: EnrollPrompt) => options.onPrompt?.(p);
    const wait = { signal: options.signal, timeoutMs: options.timeoutMs };
    if (slot !== undefined) u16Checked(slot, 'slot');
    await this.capture(1, prompt, options);
    if (!options.allowDuplicate) {
      try {
        const hit = await this.search(1, 0, this.params?.capacity ?? R307_CAPACITY, { signal: options.signal });
        throw new AlreadyEnrolledError(hit.slot, hit.score);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    prompt({ step: 'lift-finger', message: 'Lift your finger.', capture: 1 });
    await this.waitForLift(wait);
    await this.capture(2, prompt, options);
    prompt({ step: 'merging', message: 'Building the template...' });
    await this.createModel({ signal: options.signal });
    const target = slot ?? (await this.firstFreeSlot({ signal: options.signal }));
    if (target === undefined) throw new HandsetError('R307_LIBRARY_FULL', 'no free slot in the library', { device: DEVICE });
    await this.storeModel(target, 1, { signal: options.signal });
    prompt({ step: 'stored', message: `Stored at slot ${target}.`, slot: target });
    return { slot: target };
  }

  /**
   * 1:1 verification against one slot: (wait for) GenImg -> Img2Tz(1) -> Search over
   * exactly that slot. Returns `{matched, score}`; never throws for a non-match.
   */
  async verify(slot: number, options: FingerWaitOptions & { waitForFinger?: boolean } = {}): Promise<VerifyResult> {
    u16Checked(slot, 'slot');
    if (options.waitForFinger === false) await this.captureImage({ signal: options.signal });
    else await this.waitForFinger(options);
    await this.imageToTemplate(1, { signal: options.signal });
    try {
      const r = await this.search(1, slot, 1, { signal: options.signal });
      return { matched: true, score: r.score };
    } catch (err) {
      if (err instanceof NotFoundError) return { matched: false, score: 0 };
      throw err;
    }
  }

  /**
   * 1:N identification: (wait for) GenImg -> Img2Tz(1) -> HighSpeedSearch over the
   * whole library. Returns the slot and score, or undefined when nobody matches.
   */
  async identify(options: FingerWaitOptions & { waitForFinger?: boolean } = {}): Promise<SearchResult | undefined> {
    if (options.waitForFinger === false) await this.captureImage({ signal: options.signal });
    else await this.waitForFinger(options);
    await this.imageToTemplate(1, { signal: options.signal });
    try {
      return await this.highSpeedSearch(1, 0, this.params?.capacity ?? R307_CAPACITY, { signal: options.signal });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  // ---------------------------------------------------------------- internals

  private async capture(n: 1 | 2, prompt: (p: EnrollPrompt) => void, options: EnrollOptions): Promise<void> {
    const attempts = options.attempts ?? 3;
    prompt(
      n === 1
        ? { step: 'place-finger', message: 'Place your finger on the sensor.', capture: 1 }
        : { step: 'place-again', message: 'Place the same finger again.', capture: 2 },
    );
    for (let attempt = 1; ; attempt++) {
      await this.waitForFinger({ signal: options.signal, timeoutMs: options.timeoutMs });
      try {
        await this.imageToTemplate(n, { signal: options.signal });
        return;
      } catch (err) {
        if (!(err instanceof ImageQualityError) || attempt >= attempts) throw err;
        prompt({ step: 'retry', message: `Poor image (${err.message}); lift and press again.`, capture: n });
        await this.waitForLift({ signal: options.signal, timeoutMs: options.timeoutMs });
      }
    }
  }

  private async searchWith(
    instruction: number,
    buffer: 1 | 2,
    start: number,
    count: number | undefined,
    options: CommandOptions,
  ): Promise<SearchResult> {
    const n = count ?? Math.max(0, (this.params?.capacity ?? R307_CAPACITY) - start);
    const r = await this.exchange(
      instruction,
      params.search(bufferChecked(buffer), u16Checked(start, 'start slot'), u16Checked(n, 'count')),
      options,
    );
    return { slot: readU16(r.content, 1), score: readU16(r.content, 3) };
  }

  private async probe(signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.readSystemParameters({ timeoutMs: 500, signal });
      return true;
    } catch (err) {
      if (err instanceof DeviceTimeoutError || err instanceof R307ProtocolError) return false;
      throw err;
    }
  }

  private timeoutFor(instruction: number, extraBytes = 0): number {
    const name = INSTRUCTIONS.get(instruction)?.name;
    const base = (name && this.timeouts[name]) ?? this.timeouts.default;
    const wire = uartWireTimeMs(2 * (PACKET_OVERHEAD + 40) + extraBytes, this.uart.baudRate || 57600);
    return Math.ceil(base + 2 * wire);
  }

  private exchange(instruction: number, parameters: ArrayLike<number>, options: ExchangeOptions): Promise<ExchangeResult> {
    return this.mutex.run(() => this.exchangeNow(instruction, parameters, options));
  }

  private async exchangeNow(
    instruction: number,
    parameters: ArrayLike<number>,
    options: ExchangeOptions,
  ): Promise<ExchangeResult> {
    this.checkAbort(options.signal);
    if (this.linkError) throw this.linkError;
    if (!this.reading)
      throw new TransportError('R307 driver is not open; call open() first', { code: 'NOT_OPEN', device: DEVICE });
    if (this.needsResync) await this.resync('previous exchange failed');
    const label = instructionLabel(instruction);
    const ex: Exchange = { label };
    this.active = ex;
    try {
      const ack = this.waitress.waitFor({
        match: (p) => p.pid === Pid.Ack,
        timeoutMs: options.timeoutMs ?? this.timeoutFor(instruction),
        description: `ack to ${label}`,
        signal: options.signal,
      });
      ack.catch(() => undefined);
      try {
        await this.uart.write(encodeCommand(this.addr, instruction, parameters));
      } catch (err) {
        this.waitress.rejectAll(err);
        throw err;
      }
      const reply = await ack;
      this.checkCorrupt(ex);
      const content = reply.content;
      const code = content[0]!;
      const expected = INSTRUCTIONS.get(instruction)?.ackContent;
      if (expected !== undefined && content.length !== expected && !(code !== 0 && content.length < expected)) {
        throw new R307ProtocolError(
          `${label}: reply has ${content.length} content bytes, expected ${expected} (a reply to another command?)`,
          { code: 'R307_UNEXPECTED_REPLY', details: { instruction, contentLength: content.length, expected } },
        );
      }
      if (code !== 0) {
        if (options.noThrow) return { code, content };
        throw r307Error(code, instruction);
      }
      const result: ExchangeResult = { code, content };
      if (options.upload) result.data = await this.receiveData(ex, options.upload, options.signal);
      if (options.download) await this.sendData(options.download, options.signal);
      return result;
    } catch (err) {
      if (
        err instanceof DeviceTimeoutError ||
        err instanceof R307ProtocolError ||
        err instanceof CanceledError ||
        (err instanceof TransportError && !this.linkError)
      )
        this.needsResync = true;
      if (err instanceof DeviceTimeoutError) {
        throw new DeviceTimeoutError(`R307 ${err.message}`, err.timeoutMs, { device: DEVICE, details: { instruction } });
      }
      throw err;
    } finally {
      this.active = undefined;
    }
  }

  private async receiveData(
    ex: Exchange,
    upload: NonNullable<ExchangeOptions['upload']>,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    const asm = new DataAssembler();
    const packetSize = this.params?.packetSize ?? DEFAULT_PACKET_SIZE;
    const idle = Math.ceil(this.dataIdleTimeoutMs + 2 * uartWireTimeMs(packetSize + 11, this.uart.baudRate || 57600));
    for (;;) {
      const p = await this.waitress.waitFor({
        match: (x) => x.pid === Pid.Data || x.pid === Pid.EndData,
        timeoutMs: idle,
        description: `data packet ${asm.packets + 1} of ${ex.label} (${asm.received}/${upload.total} bytes received)`,
        signal,
      });
      this.checkCorrupt(ex);
      const done = asm.push(p);
      if (asm.received > upload.total)
        throw new R307ProtocolError(`${ex.label}: data stream longer than ${upload.total} bytes`, { code: 'R307_BAD_STREAM' });
      upload.onProgress?.({ bytes: asm.received, total: upload.total, packets: asm.packets });
      if (done) break;
    }
    if (asm.received !== upload.total)
      throw new R307ProtocolError(`${ex.label}: data stream ended after ${asm.received} of ${upload.total} bytes`, {
        code: 'R307_BAD_STREAM',
      });
    return asm.result();
  }

  private async sendData(download: NonNullable<ExchangeOptions['download']>, signal: AbortSignal | undefined): Promise<void> {
    const packetSize = this.params?.packetSize ?? DEFAULT_PACKET_SIZE;
    const packets = encodeDataPackets(this.addr, download.payload, packetSize);
    let bytes = 0;
    for (const [i, pkt] of packets.entries()) {
      this.checkAbort(signal);
      await this.uart.write(pkt);
      bytes += pkt.length - PACKET_OVERHEAD - 2;
      download.onProgress?.({ bytes, total: download.payload.length, packets: i + 1 });
    }
    await this.uart.drain();
  }

  private checkCorrupt(ex: Exchange): void {
    if (ex.corrupt)
      throw new R307ProtocolError(
        `${ex.label}: corrupt packet (checksum 0x${ex.corrupt.received.toString(16)} != 0x${ex.corrupt.expected.toString(16)})`,
        { code: 'R307_BAD_CHECKSUM', details: { ...ex.corrupt } },
      );
  }

  private onBadChecksum(e: BadChecksumEvent): void {
    this.emit('badChecksum', e);
    const ex = this.active;
    if (!ex || e.pid === Pid.Command) return;
    if (this.parser.address !== undefined && e.address !== this.parser.address) return;
    ex.corrupt ??= e;
    if (this.waitress.waiting)
      this.waitress.rejectAll(
        new R307ProtocolError(`${ex.label}: corrupt packet (bad checksum)`, { code: 'R307_BAD_CHECKSUM', details: { ...e } }),
      );
  }

  private async resync(reason: string): Promise<void> {
    this.emit('resync', { reason });
    this.parser.reset();
    this.waitress.clear();
    await this.uart.discardInput();
    await this.clock.sleep(this.resyncQuietMs);
    await this.uart.discardInput();
    this.parser.reset();
    this.waitress.clear();
    this.needsResync = false;
  }

  private startReading(): void {
    if (this.reading) return;
    this.reading = true;
    this.readLoopDone = this.readLoop();
  }

  private async readLoop(): Promise<void> {
    while (this.reading) {
      let chunk: Uint8Array;
      try {
        chunk = await this.uart.read();
      } catch (err) {
        if (!this.reading) return;
        this.reading = false;
        const e =
          err instanceof HandsetError
            ? err
            : new TransportError(`R307 link failed: ${String(err)}`, { device: DEVICE, cause: err, code: 'DISCONNECTED' });
        this.linkError = e;
        this.waitress.rejectAll(e);
        return;
      }
      this.parser.push(chunk);
    }
  }

  private checkAbort(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw new CanceledError('R307 operation aborted', { device: DEVICE, cause: signal.reason });
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (err) {
      throw new CanceledError('R307 operation aborted', { device: DEVICE, cause: err });
    }
  }
}

function u16Checked(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ValidationError(`${what} ${v} is not 0-65535`, { device: DEVICE });
  return v;
}

function u32Checked(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new ValidationError(`${what} ${v} is not a 32-bit unsigned value`, { device: DEVICE });
  return v >>> 0;
}

function bufferChecked(b: number): 1 | 2 {
  if (b !== 1 && b !== 2) throw new ValidationError(`CharBuffer ${b} is not 1 or 2`, { device: DEVICE });
  return b;
}

function notepadChecked(page: number): void {
  if (!Number.isInteger(page) || page < 0 || page >= NOTEPAD_PAGES)
    throw new ValidationError(`notepad page ${page} is not 0-15`, { device: DEVICE });
}
