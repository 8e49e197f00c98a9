import { fromBase64, toBase64 } from '../encoding';
import { EmvError } from '../errors';
import { decodeBerTlv, encodeBerTlv, type TlvInput, type TlvNode } from './ber';

/**
 * EMV CPM (consumer-presented QR): base64 of BER-TLV. Reader rules of CPM §4-5 (reference
 * emv-qr.md §4): text must start with "hQVDUFY" (base64 of 85 05 "CPV"), first object 85 =
 * "CPV01", at least one application template 61; 62 only with two 61s; duplicate
 * primitive objects inside a template are an error; transparent templates 63/64 are
 * passed on opaque; unknown objects are kept.
 */

/** Reader limit on the base64 text (CPM readers must recover >= 512 bytes; we allow 4 kB). */
export const MAX_CPM_TEXT = 4096;
export const CPM_PREFIX = 'hQVDUFY';

/** Track 2 Equivalent Data (tag 57) split into its parts. */
export interface Track2 {
  readonly pan: string;
  /** YYMM */
  readonly expiry: string;
  readonly serviceCode: string;
  readonly discretionary: string;
}

export interface CpmApplication {
  /** ADF Name (4F) as upper-case hex; undefined when absent. */
  readonly aid?: string;
  /** True when 4F is present with 5-16 bytes (CPM: otherwise the POI skips the template). */
  readonly eligible: boolean;
  readonly label?: string;
  readonly track2?: Track2;
  /** PAN from 5A, else from 57. */
  readonly pan?: string;
  readonly cardholderName?: string;
  readonly languagePreference?: string;
  readonly issuerUrl?: string;
  readonly applicationVersion?: string;
  readonly tokenRequestorId?: string;
  readonly paymentAccountReference?: string;
  readonly last4?: string;
  /** 63 Application Specific Transparent Template, forwarded untouched. */
  readonly transparent?: Uint8Array;
  /** Every object of the template, decoded (unknown ones included). */
  readonly objects: readonly TlvNode[];
}

export interface CpmPayload {
  readonly formatIndicator: string;
  readonly applications: readonly CpmApplication[];
  /** 62 Common Data Template (only with two applications). */
  readonly common?: CpmApplication;
  /** Other top-level templates after 61/62, kept. */
  readonly others: readonly TlvNode[];
  readonly bytes: Uint8Array;
}

const HEX = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');
const ascii = (b: Uint8Array) => String.fromCharCode(...b);
const nibbles = (b: Uint8Array) => HEX(b);

/** Splits Track 2 Equivalent Data: PAN, 'D', YYMM, service code, discretionary, optional 'F' pad. */
export function decodeTrack2(value: Uint8Array, offset = 0): Track2 {
  const s = nibbles(value);
  const m = /^([0-9]{1,19})D([0-9]{4})([0-9]{3})([0-9]*)F?$/.exec(s);
  if (!m) throw new EmvError('CPM_BAD_TRACK2', `Track 2 Equivalent Data ${s} is malformed`, offset, ['61', '57']);
  return { pan: m[1]!, expiry: m[2]!, serviceCode: m[3]!, discretionary: m[4]! };
}

/** Encodes Track 2 Equivalent Data (adds the 'F' pad to an odd number of nibbles). */
export function encodeTrack2(t: Track2): Uint8Array {
  let s = `${t.pan}D${t.expiry}${t.serviceCode}${t.discretionary}`;
  if (!/^[0-9]{1,19}D[0-9]{4}[0-9]{3}[0-9]*$/.test(s))
    throw new EmvError('CPM_BAD_TRACK2', 'Track 2 parts must be digits (PAN 1-19, expiry YYMM, service code 3)', 0, ['57']);
  if (s.length % 2) s += 'F';
  return Uint8Array.from(s.match(/../g)!, (h) => Number.parseInt(h, 16));
}

function readTemplate(node: TlvNode): CpmApplication {
  const objects = node.children ?? [];
  const seen = new Set<string>();
  for (const o of objects) {
    if (!o.constructed && seen.has(o.tag))
      throw new EmvError('CPM_DUPLICATE', `tag ${o.tag} occurs twice in template ${node.tag}`, o.offset, [node.tag, o.tag]);
    seen.add(o.tag);
  }
  const get = (tag: string) => objects.find((o) => o.tag === tag);
  const aid = get('4F');
  const t2 = get('57');
  const track2 = t2 ? decodeTrack2(t2.value, t2.offset) : undefined;
  const pan5a = get('5A');
  const pan = pan5a ? nibbles(pan5a.value).replace(/F+$/, '') : track2?.pan;
  const text = (tag: string) => {
    const o = get(tag);
    return o ? ascii(o.value) : undefined;
  };
  const num = (tag: string) => {
    const o = get(tag);
    return o ? nibbles(o.value) : undefined;
  };
  return {
    aid: aid ? HEX(aid.value) : undefined,
    eligible: !!aid && aid.value.length >= 5 && aid.value.length <= 16,
    label: text('50'),
    track2,
    pan,
    cardholderName: text('5F20'),
    languagePreference: text('5F2D'),
    issuerUrl: text('5F50'),
    applicationVersion: num('9F08'),
    tokenRequestorId: num('9F19'),
    paymentAccountReference: text('9F24'),
    last4: num('9F25'),
    transparent: get('63')?.value ?? get('64')?.value,
    objects,
  };
}

/** Base64 text -> bytes with the CPM checks; throws EmvError with a character offset. */
export function cpmBytes(text: string): Uint8Array {
  if (typeof text !== 'string') throw new EmvError('CPM_TYPE', 'CPM payload must be text', 0);
  if (text.length > MAX_CPM_TEXT)
    throw new EmvError('CPM_TOO_LARGE', `CPM payload of ${text.length} characters exceeds ${MAX_CPM_TEXT}`, MAX_CPM_TEXT);
  if (!text.startsWith(CPM_PREFIX))
    throw new EmvError('CPM_NOT_CPM', `not a CPM payload: does not start with "${CPM_PREFIX}"`, 0);
  const bytes = fromBase64(text);
  if (!(bytes instanceof Uint8Array)) throw new EmvError('CPM_BAD_BASE64', `bad base64: ${bytes.reason}`, bytes.offset);
  return bytes;
}

/**
 * Reads a scanned CPM payload (base64 text) or its raw bytes. Throws EmvError (byte
 * offsets for TLV faults, character offsets for base64 faults).
 */
export function parseCpm(input: string | Uint8Array): CpmPayload {
  const bytes = typeof input === 'string' ? cpmBytes(input) : input;
  if (!(bytes instanceof Uint8Array)) throw new EmvError('CPM_TYPE', 'CPM payload must be text or bytes', 0);
  if (bytes.length > MAX_CPM_TEXT)
    throw new EmvError('CPM_TOO_LARGE', `CPM payload of ${bytes.length} bytes exceeds ${MAX_CPM_TEXT}`, MAX_CPM_TEXT);
  const top = decodeBerTlv(bytes, { opaque: ['63', '64'] });
  const first = top[0];
  if (first?.tag !== '85')
    throw new EmvError('CPM_FIRST_NOT_85', 'the first object must be the Payload Format Indicator (85)', first?.offset ?? 0, [
      '85',
    ]);
  const fi = ascii(first.value);
  if (fi !== 'CPV01')
    throw new EmvError('CPM_BAD_VERSION', `Payload Format Indicator ${JSON.stringify(fi)} is not "CPV01"`, first.offset + 2, [
      '85',
    ]);
  if (top.slice(1).some((o) => o.tag === '85'))
    throw new EmvError('CPM_DUPLICATE', 'tag 85 occurs twice', top.slice(1).find((o) => o.tag === '85')!.offset, ['85']);
  const apps = top.filter((o) => o.tag === '61');
  if (apps.length === 0) throw new EmvError('CPM_NO_APPLICATION', 'no Application Template (61)', bytes.length, ['61']);
  if (apps.length > 2)
    throw new EmvError('CPM_TOO_MANY_APPLICATIONS', 'at most two Application Templates (61)', apps[2]!.offset, ['61']);
  const commons = top.filter((o) => o.tag === '62');
  if (commons.length > 1)
    throw new EmvError('CPM_DUPLICATE', 'Common Data Template (62) occurs twice', commons[1]!.offset, ['62']);
  if (commons.length === 1 && apps.length !== 2)
    throw new EmvError(
      'CPM_COMMON_WITHOUT_TWO',
      'a Common Data Template (62) needs two Application Templates',
      commons[0]!.offset,
      ['62'],
    );
  return {
    formatIndicator: fi,
    applications: apps.map(readTemplate),
    common: commons[0] ? readTemplate(commons[0]) : undefined,
    others: top.slice(1).filter((o) => o.tag !== '61' && o.tag !== '62'),
    bytes,
  };
}

/**
 * The application to use for a merchant's configured AIDs: the first eligible template
 * whose ADF Name equals, or starts with, one of them (CPM §5 partial AID matching).
 */
export function selectCpmApplication(payload: CpmPayload, aids: readonly string[]): CpmApplication | undefined {
  const wanted = aids.map((a) => a.toUpperCase());
  return payload.applications.find((app) => app.eligible && app.aid && wanted.some((w) => app.aid!.startsWith(w)));
}

/** Builds a CPM payload: 85 "CPV01" first, then the given templates; returns base64 text. */
export function encodeCpm(templates: readonly TlvInput[]): string {
  const bytes = encodeBerTlv([{ tag: '85', value: Uint8Array.from('CPV01', (c) => c.charCodeAt(0)) }, ...templates]);
  const text = toBase64(bytes);
  parseCpm(text);
  return text;
}
