import { fromUtf8 } from '../encoding';
import { EmvError } from '../errors';
import { findCurrency, MAX_MINOR_UNITS } from '../money';
import { mpmCrc } from './crc';
import { type MpmObject, scanIlv } from './ilv';
import type { MpmProblem, Severity } from './problems';
import { PROFILES, type ProfileSpec, type SubFieldSpec } from './profiles';
import { ANS_RE, additionalSpec, type FieldSpec, guiForm, guiTemplateSpec, languageSpec, rootSpec } from './spec';

/**
 * EMV MPM (merchant-presented QR) reader and writer.
 *
 * `parseMpm` never throws. It returns every object it could read (with positions), the
 * CRC verdict and a list of problems, each with a severity and a position. A payload is
 * `ok` only when the CRC matches and no problem has severity `error`; profile deviations
 * (national schemes bending a rule on purpose) and `should`-level findings are reported
 * but do not refuse the code. `encodeMpm` writes objects back byte-exactly.
 */

/** Hard limit on the payload handed to the parser (characters or bytes). SGQR codes reach ~1,000. */
export const MAX_MPM_LENGTH = 4096;
/** MPM §: a payload should not exceed 512 characters. */
export const MPM_SHOULD_LENGTH = 512;

export interface MpmAccount {
  readonly id: string;
  /** GUI (sub-ID 00) of a template account. */
  readonly gui?: string;
  /** Primitive value (02-25) or undefined for templates. */
  readonly value?: string;
  /** Sub-fields of a template account. */
  readonly fields?: Readonly<Record<string, string>>;
  /** Profile recognised from this account. */
  readonly profile?: string;
}

/** The meaning of a payload, as far as it could be read. */
export interface MpmData {
  payloadFormatIndicator?: string;
  initiation?: 'static' | 'dynamic';
  merchantAccounts: MpmAccount[];
  mcc?: string;
  currency?: { numeric: string; alpha?: string; exponent?: number };
  amount?: { text: string; minor?: bigint };
  tip?: { indicator: string; fixedFee?: { text: string; minor?: bigint }; percentage?: string };
  countryCode?: string;
  merchantName?: string;
  merchantCity?: string;
  postalCode?: string;
  additionalData?: Record<string, string>;
  /** 62 sub-IDs whose value is "***" (the app asks the consumer). */
  prompts?: string[];
  language?: { preference?: string; merchantName?: string; merchantCity?: string };
  /** Our own template (GUI io.handset.pay): merchant id and order reference. */
  handset?: { merchantId?: string; orderRef?: string };
}

export interface MpmParseResult {
  /** CRC valid and no `error` problems. */
  readonly ok: boolean;
  readonly crcValid: boolean;
  readonly crc: { readonly given?: string; readonly computed?: string };
  readonly payload: string;
  readonly objects: MpmObject[];
  readonly problems: MpmProblem[];
  /** Profiles recognised (by GUI or by their root IDs). */
  readonly profiles: string[];
  /** Some character is outside `ans`: the QR symbol needs ECI 000026 (UTF-8). */
  readonly needsUtf8Eci: boolean;
  readonly data: MpmData;
}

class Report {
  readonly problems: MpmProblem[] = [];
  add(severity: Severity, code: string, message: string, offset: number, idPath: readonly string[]): void {
    this.problems.push({ severity, code, message, offset, idPath });
  }
}

const isWellFormed = (s: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

function empty(payload: string, problems: MpmProblem[]): MpmParseResult {
  return {
    ok: false,
    crcValid: false,
    crc: {},
    payload,
    objects: [],
    problems,
    profiles: [],
    needsUtf8Eci: false,
    data: { merchantAccounts: [] },
  };
}

/** Checks one value against its spec (format, length); `where` = ID path. */
function checkValue(r: Report, o: MpmObject, spec: FieldSpec, path: string[]): void {
  if (spec.fixed !== undefined && o.length !== spec.fixed)
    r.add(
      'error',
      'FIELD_LENGTH',
      `${path.join('.')} (${spec.name}) must be ${spec.fixed} characters, got ${o.length}`,
      o.offset + 2,
      path,
    );
  else if (o.length > spec.max)
    r.add(
      'error',
      'FIELD_TOO_LONG',
      `${path.join('.')} (${spec.name}) is ${o.length} characters; at most ${spec.max}`,
      o.offset + 2,
      path,
    );
  if (spec.template) return;
  if (spec.format === 'N') {
    const bad = /[^0-9]/.exec(o.value);
    if (bad)
      r.add(
        'error',
        'CHARSET_N',
        `${path.join('.')} (${spec.name}) must be digits`,
        o.valueOffset + Array.from(o.value.slice(0, bad.index)).length,
        path,
      );
  } else if (spec.format === 'ans') {
    if (!ANS_RE.test(o.value)) {
      const idx = Array.from(o.value).findIndex((c) => !ANS_RE.test(c));
      r.add(
        'should',
        'CHARSET_ANS',
        `${path.join('.')} (${spec.name}) holds characters outside the ans set`,
        o.valueOffset + idx,
        path,
      );
    }
  } else if (o.value.normalize('NFC') !== o.value) {
    r.add('should', 'NOT_PRECOMPOSED', `${path.join('.')} (${spec.name}) is not in precomposed (NFC) form`, o.valueOffset, path);
  }
}

/** Parses the children of a template value; on failure reports TEMPLATE_NOT_ILV and leaves it primitive. */
function parseTemplate(r: Report, o: MpmObject, path: string[]): MpmObject[] | undefined {
  const chars = Array.from(o.value);
  const { objects, fault } = scanIlv(chars, 0, chars.length, o.valueOffset);
  if (fault) {
    r.add(
      'error',
      'TEMPLATE_NOT_ILV',
      `${path.join('.')} should hold ID-Length-Value objects: ${fault.message}`,
      fault.offset,
      path,
    );
    return undefined;
  }
  o.children = objects;
  const seen = new Set<string>();
  for (const c of objects) {
    if (seen.has(c.id))
      r.add('error', 'DUPLICATE_ID', `ID ${c.id} occurs twice in template ${path.join('.')}`, c.offset, [...path, c.id]);
    seen.add(c.id);
  }
  return objects;
}

function checkGuiTemplate(r: Report, o: MpmObject, path: string[], format: 'ans' | 'S'): void {
  const children = parseTemplate(r, o, path);
  if (!children) return;
  for (const c of children) checkValue(r, c, guiTemplateSpec(c.id, format), [...path, c.id]);
  const gui = children.find((c) => c.id === '00');
  if (!gui) {
    r.add(
      'error',
      'GUI_MISSING',
      `template ${path.join('.')} has no Globally Unique Identifier (sub-ID 00)`,
      o.valueOffset,
      path,
    );
    return;
  }
  if (children[0]!.id !== '00')
    r.add('should', 'GUI_NOT_FIRST', `template ${path.join('.')} should start with its GUI (00)`, o.valueOffset, path);
  if (!guiForm(gui.value))
    r.add(
      'should',
      'GUI_FORM',
      `GUI ${JSON.stringify(gui.value)} is neither an AID, a UUID nor a reverse domain name`,
      gui.valueOffset,
      [...path, '00'],
    );
}

const AMOUNT_RE = /^[0-9]+(\.[0-9]*)?$/;

function readAmount(
  r: Report,
  o: MpmObject,
  path: string[],
  exponent: number | undefined,
  zeroCode: string,
): { text: string; minor?: bigint } {
  const text = o.value;
  if (!AMOUNT_RE.test(text)) {
    r.add(
      'error',
      'AMOUNT_SYNTAX',
      `${path.join('.')} ${JSON.stringify(text)} is not digits with at most one "."`,
      o.valueOffset,
      path,
    );
    return { text };
  }
  const [whole, frac = ''] = text.split('.') as [string, string?];
  if (/^0*$/.test(whole + frac)) {
    r.add('error', zeroCode, `${path.join('.')} must not be zero`, o.valueOffset, path);
    return { text };
  }
  if (exponent === undefined) return { text };
  if (frac.length > exponent) {
    r.add(
      'should',
      'AMOUNT_DECIMALS',
      `${path.join('.')} has ${frac.length} decimals; the currency has ${exponent}`,
      o.valueOffset,
      path,
    );
    return { text };
  }
  if (text.includes('.') && frac.length > 0 && frac.length !== exponent)
    r.add(
      'should',
      'AMOUNT_DECIMALS',
      `${path.join('.')} has ${frac.length} decimals; the currency has ${exponent}`,
      o.valueOffset,
      path,
    );
  const minor = BigInt(whole + frac.padEnd(exponent, '0'));
  if (minor > MAX_MINOR_UNITS) {
    r.add('error', 'AMOUNT_OVERFLOW', `${path.join('.')} exceeds ${MAX_MINOR_UNITS} minor units`, o.valueOffset, path);
    return { text };
  }
  return { text, minor };
}

function matchesPattern(value: string, pattern: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(value);
}

function checkSubFields(
  r: Report,
  children: MpmObject[],
  fields: Readonly<Record<string, SubFieldSpec>>,
  path: string[],
  profile: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of children) out[c.id] = c.value;
  for (const [sub, spec] of Object.entries(fields)) {
    const c = children.find((x) => x.id === sub);
    if (!c) {
      if (spec.required)
        r.add(
          'error',
          'PROFILE_FIELD_MISSING',
          `${profile}: ${[...path, sub].join('.')} (${spec.name}) is required`,
          children[0]?.offset ?? 0,
          [...path, sub],
        );
      continue;
    }
    if (spec.template) {
      const inner = parseTemplate(r, c, [...path, sub]);
      if (inner) checkSubFields(r, inner, spec.template, [...path, sub], profile);
    } else if (spec.pattern && !matchesPattern(c.value, spec.pattern)) {
      r.add(
        'error',
        'PROFILE_FIELD_FORMAT',
        `${profile}: ${[...path, sub].join('.')} (${spec.name}) ${JSON.stringify(c.value)} does not match ${spec.pattern}`,
        c.valueOffset,
        [...path, sub],
      );
    }
  }
  return out;
}

/** Parses and validates an MPM payload (text, or bytes that must be UTF-8). Never throws. */
export function parseMpm(input: string | Uint8Array): MpmParseResult {
  let payload: string;
  if (typeof input !== 'string') {
    if (!(input instanceof Uint8Array))
      return empty('', [
        { severity: 'error', code: 'PAYLOAD_TYPE', message: 'payload must be text or bytes', offset: 0, idPath: [] },
      ]);
    if (input.length > MAX_MPM_LENGTH * 4)
      return empty('', [
        {
          severity: 'error',
          code: 'PAYLOAD_TOO_LARGE',
          message: `payload of ${input.length} bytes exceeds the limit`,
          offset: 0,
          idPath: [],
        },
      ]);
    const text = fromUtf8(input);
    if (typeof text !== 'string')
      return empty('', [
        {
          severity: 'error',
          code: 'INVALID_UTF8',
          message: `payload is not UTF-8 (byte offset ${text.offset})`,
          offset: text.offset,
          idPath: [],
        },
      ]);
    payload = text;
  } else payload = input;

  if (payload.length > MAX_MPM_LENGTH)
    return empty(payload.slice(0, 64), [
      {
        severity: 'error',
        code: 'PAYLOAD_TOO_LARGE',
        message: `payload of ${payload.length} characters exceeds ${MAX_MPM_LENGTH}`,
        offset: MAX_MPM_LENGTH,
        idPath: [],
      },
    ]);
  if (payload.length === 0)
    return empty(payload, [{ severity: 'error', code: 'PAYLOAD_EMPTY', message: 'payload is empty', offset: 0, idPath: [] }]);
  if (!isWellFormed(payload)) {
    const idx = Array.from(payload).findIndex((c) => !isWellFormed(c));
    return empty(payload, [
      { severity: 'error', code: 'INVALID_UNICODE', message: 'payload holds an unpaired surrogate', offset: idx, idPath: [] },
    ]);
  }

  const r = new Report();
  const chars = Array.from(payload);
  const n = chars.length;
  if (n > MPM_SHOULD_LENGTH)
    r.add('should', 'PAYLOAD_OVER_512', `payload has ${n} characters; it should not exceed 512`, MPM_SHOULD_LENGTH, []);

  // CRC: the payload must end with "6304" + 4 hex digits; the CRC covers everything before those 4.
  let crcValid = false;
  const crc: { given?: string; computed?: string } = {};
  if (n >= 8 && chars.slice(n - 8, n - 4).join('') === '6304') {
    const given = chars.slice(n - 4).join('');
    crc.given = given;
    crc.computed = mpmCrc(chars.slice(0, n - 4).join(''));
    if (!/^[0-9A-Fa-f]{4}$/.test(given))
      r.add('error', 'CRC_FORMAT', `CRC ${JSON.stringify(given)} is not 4 hex digits`, n - 4, ['63']);
    else if (given.toUpperCase() !== crc.computed)
      r.add('error', 'CRC_MISMATCH', `CRC ${given} does not match the computed ${crc.computed}`, n - 4, ['63']);
    else {
      crcValid = true;
      if (given !== given.toUpperCase())
        r.add('should', 'CRC_LOWERCASE', `CRC ${given} is lower-case; emit upper case`, n - 4, ['63']);
    }
  } else {
    r.add('error', 'CRC_MISSING', 'payload does not end with the CRC object "6304" + 4 hex digits', Math.max(0, n - 8), ['63']);
  }

  const { objects, fault } = scanIlv(chars, 0, n, 0);
  if (fault) r.add('error', fault.code, fault.message, fault.offset, []);

  // Duplicates and order at the root.
  const byId = new Map<string, MpmObject>();
  for (const o of objects) {
    if (byId.has(o.id)) r.add('error', 'DUPLICATE_ID', `ID ${o.id} occurs twice at the root`, o.offset, [o.id]);
    else byId.set(o.id, o);
  }
  if (objects.length > 0 && objects[0]!.id !== '00' && byId.has('00'))
    r.add('error', 'ORDER_00_NOT_FIRST', 'Payload Format Indicator (00) must be the first object', byId.get('00')!.offset, [
      '00',
    ]);
  const crcObj = byId.get('63');
  if (crcObj && objects.at(-1) !== crcObj)
    r.add('error', 'ORDER_63_NOT_LAST', 'CRC (63) must be the last object', crcObj.offset, ['63']);

  // Per-object format, length and template structure.
  for (const o of objects) {
    const spec = rootSpec(o.id);
    const path = [o.id];
    checkValue(r, o, spec, path);
    if (spec.reserved) r.add('should', 'RESERVED_ID', `ID ${o.id} is reserved (${spec.name})`, o.offset, path);
    const num = Number(o.id);
    if (spec.gui) checkGuiTemplate(r, o, path, num >= 80 ? 'S' : 'ans');
    else if (o.id === '62') {
      const kids = parseTemplate(r, o, path);
      for (const c of kids ?? []) {
        const s = additionalSpec(c.id);
        checkValue(r, c, s, ['62', c.id]);
        if (s.reserved) r.add('should', 'RESERVED_ID', `62.${c.id} is RFU for EMVCo`, c.offset, ['62', c.id]);
        if (s.gui) checkGuiTemplate(r, c, ['62', c.id], 'S');
        if (c.id === '09' && (!/^[AME]{1,3}$/.test(c.value) || new Set(c.value).size !== c.value.length))
          r.add(
            'error',
            'CONSUMER_DATA_REQUEST',
            `62.09 ${JSON.stringify(c.value)} must combine "A", "M", "E", each at most once`,
            c.valueOffset,
            ['62', '09'],
          );
      }
    } else if (o.id === '64') {
      const kids = parseTemplate(r, o, path);
      if (kids) {
        for (const c of kids) {
          const s = languageSpec(c.id);
          checkValue(r, c, s, ['64', c.id]);
          if (s.reserved) r.add('should', 'RESERVED_ID', `64.${c.id} is RFU for EMVCo`, c.offset, ['64', c.id]);
        }
        const pref = kids.find((c) => c.id === '00');
        if (!pref)
          r.add('error', 'LANGUAGE_MISSING', 'language template 64 needs 00 (Language Preference)', o.valueOffset, ['64', '00']);
        else if (!/^[A-Za-z]{2}$/.test(pref.value))
          r.add('should', 'LANGUAGE_FORMAT', `64.00 ${JSON.stringify(pref.value)} is not an ISO 639-1 code`, pref.valueOffset, [
            '64',
            '00',
          ]);
        if (!kids.some((c) => c.id === '01'))
          r.add('error', 'LANGUAGE_MISSING', 'language template 64 needs 01 (alternate merchant name)', o.valueOffset, [
            '64',
            '01',
          ]);
      }
    }
  }

  // Mandatory objects and values.
  const data: MpmData = { merchantAccounts: [] };
  const at = (id: string) => byId.get(id);
  const missing = (id: string, what: string) => r.add('error', 'MISSING_MANDATORY', `${id} (${what}) is mandatory`, n, [id]);
  const pfi = at('00');
  if (!pfi) missing('00', 'Payload Format Indicator');
  else {
    data.payloadFormatIndicator = pfi.value;
    if (pfi.value !== '01')
      r.add('error', 'PFI_VALUE', `Payload Format Indicator ${JSON.stringify(pfi.value)} is not "01"`, pfi.valueOffset, ['00']);
  }
  const poi = at('01');
  if (poi) {
    if (poi.value === '11') data.initiation = 'static';
    else if (poi.value === '12') data.initiation = 'dynamic';
    else
      r.add('error', 'POI_VALUE', `Point of Initiation ${JSON.stringify(poi.value)} is neither "11" nor "12"`, poi.valueOffset, [
        '01',
      ]);
  }
  for (const o of objects) {
    const num = Number(o.id);
    if (num < 2 || num > 51) continue;
    if (num <= 25) data.merchantAccounts.push({ id: o.id, value: o.value });
    else {
      const fields: Record<string, string> = {};
      for (const c of o.children ?? []) fields[c.id] = c.value;
      data.merchantAccounts.push({
        id: o.id,
        gui: fields['00'],
        fields: o.children ? fields : undefined,
        value: o.children ? undefined : o.value,
      });
    }
  }
  if (data.merchantAccounts.length === 0)
    r.add('error', 'MISSING_MAI', 'at least one Merchant Account Information object (02-51) is required', n, []);
  const mcc = at('52');
  if (!mcc) missing('52', 'Merchant Category Code');
  else data.mcc = mcc.value;
  const cur = at('53');
  let exponent: number | undefined;
  if (!cur) missing('53', 'Transaction Currency');
  else {
    const c = findCurrency(cur.value);
    data.currency = { numeric: cur.value, alpha: c?.alpha, exponent: c?.exponent };
    exponent = c?.exponent;
    if (!c && /^[0-9]{3}$/.test(cur.value))
      r.add(
        'should',
        'CURRENCY_UNKNOWN',
        `currency ${cur.value} is not in the ISO 4217 table; exponent unknown`,
        cur.valueOffset,
        ['53'],
      );
  }
  const amount = at('54');
  if (amount) data.amount = readAmount(r, amount, ['54'], exponent, 'AMOUNT_ZERO');
  const country = at('58');
  if (!country) missing('58', 'Country Code');
  else {
    data.countryCode = country.value;
    if (!/^[A-Z]{2}$/.test(country.value))
      r.add(
        'should',
        'COUNTRY_FORMAT',
        `country ${JSON.stringify(country.value)} is not an ISO 3166-1 alpha-2 code`,
        country.valueOffset,
        ['58'],
      );
  }
  const name = at('59');
  if (!name) missing('59', 'Merchant Name');
  else data.merchantName = name.value;
  const city = at('60');
  if (!city) missing('60', 'Merchant City');
  else data.merchantCity = city.value;
  if (at('61')) data.postalCode = at('61')!.value;

  // Tip / convenience fee (55/56/57).
  const tip = at('55');
  const fixed = at('56');
  const pct = at('57');
  if (tip) {
    data.tip = { indicator: tip.value };
    if (!['01', '02', '03'].includes(tip.value))
      r.add('error', 'TIP_VALUE', `55 ${JSON.stringify(tip.value)} is not 01, 02 or 03`, tip.valueOffset, ['55']);
    if (tip.value === '01') {
      if (fixed) r.add('error', 'TIP_FEE_UNEXPECTED', '56 must be absent when 55 = "01" (prompt for tip)', fixed.offset, ['56']);
      if (pct) r.add('error', 'TIP_FEE_UNEXPECTED', '57 must be absent when 55 = "01" (prompt for tip)', pct.offset, ['57']);
    }
    if (tip.value === '02') {
      if (!fixed) r.add('error', 'TIP_FEE_MISSING', '56 (fixed fee) is required when 55 = "02"', tip.offset, ['56']);
      if (pct) r.add('error', 'TIP_FEE_UNEXPECTED', '57 must be absent when 55 = "02"', pct.offset, ['57']);
    }
    if (tip.value === '03') {
      if (!pct) r.add('error', 'TIP_FEE_MISSING', '57 (fee percentage) is required when 55 = "03"', tip.offset, ['57']);
      if (fixed) r.add('error', 'TIP_FEE_UNEXPECTED', '56 must be absent when 55 = "03"', fixed.offset, ['56']);
    }
  } else {
    if (fixed) r.add('error', 'TIP_FEE_UNEXPECTED', '56 requires 55 = "02"', fixed.offset, ['56']);
    if (pct) r.add('error', 'TIP_FEE_UNEXPECTED', '57 requires 55 = "03"', pct.offset, ['57']);
  }
  if (fixed) {
    const f = readAmount(r, fixed, ['56'], exponent, 'FEE_ZERO');
    if (data.tip) data.tip.fixedFee = f;
  }
  if (pct) {
    const ok = /^[0-9]{1,2}(\.[0-9]{0,2})?$/.test(pct.value);
    const hundredths = ok ? Math.round(Number.parseFloat(pct.value) * 100) : 0;
    if (!ok || hundredths < 1 || hundredths > 9999)
      r.add(
        'error',
        'FEE_PERCENT_RANGE',
        `57 ${JSON.stringify(pct.value)} must be a percentage from 00.01 to 99.99 without "%"`,
        pct.valueOffset,
        ['57'],
      );
    if (data.tip) data.tip.percentage = pct.value;
  }

  const add = at('62');
  if (add?.children) {
    data.additionalData = {};
    data.prompts = [];
    for (const c of add.children) {
      data.additionalData[c.id] = c.value;
      if (c.value === '***' && Number(c.id) >= 1 && Number(c.id) <= 8) data.prompts.push(c.id);
    }
  }
  const lang = at('64');
  if (lang?.children) {
    const f = Object.fromEntries(lang.children.map((c) => [c.id, c.value]));
    data.language = { preference: f['00'], merchantName: f['01'], merchantCity: f['02'] };
  }

  // Profiles: recognise, check their fields and rules, then downgrade what they tolerate.
  const profiles: ProfileSpec[] = [];
  data.merchantAccounts = data.merchantAccounts.map((acc) => {
    const obj = at(acc.id)!;
    for (const p of PROFILES) {
      const spec = p.accounts.find(
        (a) => acc.gui !== undefined && a.guis.some((g) => g.toLowerCase() === acc.gui!.toLowerCase()),
      );
      if (!spec || !obj.children) continue;
      if (!profiles.includes(p)) profiles.push(p);
      const fields = checkSubFields(r, obj.children, spec.fields, [acc.id], p.id);
      if (spec.oneOf && !spec.oneOf.some((s) => s in fields))
        r.add('error', 'PROFILE_FIELD_MISSING', `${p.id}: ${acc.id} needs one of ${spec.oneOf.join(', ')}`, obj.valueOffset, [
          acc.id,
        ]);
      if (p.id === 'handset') data.handset = { merchantId: fields['01'], orderRef: fields['02'] };
      return { ...acc, profile: p.id };
    }
    return acc;
  });
  for (const p of PROFILES) {
    if (profiles.includes(p) || !p.rootIds || data.countryCode !== p.country) continue;
    if (p.rootIds.some((id) => byId.has(id))) profiles.push(p);
  }
  for (const p of profiles) {
    if (p.country && data.countryCode && data.countryCode !== p.country && p.id !== 'handset')
      r.add('should', 'PROFILE_COUNTRY', `${p.id}: country ${data.countryCode} is not ${p.country}`, country?.valueOffset ?? n, [
        '58',
      ]);
    if (p.currencies && data.currency && !p.currencies.includes(data.currency.numeric))
      r.add(
        'should',
        'PROFILE_CURRENCY',
        `${p.id}: currency ${data.currency.numeric} is not ${p.currencies.join(' or ')}`,
        cur?.valueOffset ?? n,
        ['53'],
      );
    for (const rule of p.rules ?? []) {
      if (rule.kind === 'dynamic-if-amount' && amount && poi?.value !== '12')
        r.add(
          rule.severity,
          'PROFILE_DYNAMIC_AMOUNT',
          `${p.id}: 01 should be "12" when an amount is present`,
          poi?.valueOffset ?? 0,
          ['01'],
        );
      if (rule.kind === 'additional-required' && data.additionalData?.[rule.subId] === undefined)
        r.add(
          rule.severity,
          'PROFILE_FIELD_MISSING',
          `${p.id}: 62-${rule.subId} is expected (use "***" when there is none)`,
          add?.offset ?? n,
          ['62', rule.subId],
        );
    }
  }
  const problems = r.problems.map((pr) => {
    if (pr.severity === 'profile-deviation') return pr;
    const key = pr.idPath.join('.');
    const by = profiles.find((p) => p.tolerate.some((t) => t.code === pr.code && (!t.ids || t.ids.includes(key))));
    return by ? { ...pr, severity: 'profile-deviation' as const, profile: by.id } : pr;
  });

  return {
    ok: crcValid && !problems.some((p) => p.severity === 'error'),
    crcValid,
    crc,
    payload,
    objects,
    problems,
    profiles: profiles.map((p) => p.id),
    needsUtf8Eci: !ANS_RE.test(payload),
    data,
  };
}

/** An object to encode: a primitive `value` or a template's `children`. */
export interface MpmNode {
  readonly id: string;
  readonly value?: string;
  readonly children?: readonly MpmNode[];
}

function encodeNodes(nodes: readonly MpmNode[], path: string[]): string {
  let out = '';
  for (const node of nodes) {
    const p = [...path, String(node?.id)];
    if (typeof node?.id !== 'string' || !/^[0-9]{2}$/.test(node.id))
      throw new EmvError('ENCODE_BAD_ID', `ID ${JSON.stringify(node?.id)} is not two digits`, out.length, p);
    const value = node.children ? encodeNodes(node.children, p) : node.value;
    if (typeof value !== 'string' || value.length === 0)
      throw new EmvError('ENCODE_EMPTY_VALUE', `${p.join('.')} has no value`, out.length, p);
    if (!isWellFormed(value)) throw new EmvError('ENCODE_BAD_TEXT', `${p.join('.')} holds an unpaired surrogate`, out.length, p);
    const len = Array.from(value).length;
    if (len > 99) throw new EmvError('ENCODE_VALUE_TOO_LONG', `${p.join('.')} is ${len} characters; at most 99`, out.length, p);
    out += node.id + String(len).padStart(2, '0') + value;
  }
  return out;
}

/**
 * Writes objects as an MPM payload: lengths in characters, and (by default) a CRC object
 * computed over the UTF-8 bytes and appended last in upper case. Any "63" given is
 * replaced. `encodeMpm(parseMpm(p).objects) === p` for every canonical payload.
 * Throws EmvError for IDs that are not two digits, empty values or values over 99 characters.
 */
export function encodeMpm(nodes: readonly MpmNode[], options: { crc?: boolean } = {}): string {
  if (!Array.isArray(nodes)) throw new EmvError('ENCODE_BAD_INPUT', 'expected a list of objects', 0);
  const body = encodeNodes(
    nodes.filter((n) => n?.id !== '63'),
    [],
  );
  if (options.crc === false) return body;
  const withTag = `${body}6304`;
  return withTag + mpmCrc(withTag);
}

/** Short human name of the object at an ID path (for JSON output). */
export function mpmObjectName(path: readonly string[]): string {
  const [root, sub] = path;
  if (root === undefined) return '';
  if (path.length > 2) return 'Payment network specific';
  const rs = rootSpec(root);
  if (sub === undefined) return rs.name;
  if (root === '62') return additionalSpec(sub).name;
  if (root === '64') return languageSpec(sub).name;
  return guiTemplateSpec(sub, 'ans').name;
}
