/**
 * The EMVCo MPM data-object tables (MPM v1.0 Tables 3.6-3.8, 4.1-4.2, plus v1.1 62-10/11)
 * as data: name, character format, length rule, template or not.
 */
export type CharFormat = 'N' | 'ans' | 'S';

export interface FieldSpec {
  readonly name: string;
  readonly format: CharFormat;
  /** Exact length, when fixed. */
  readonly fixed?: number;
  readonly max: number;
  /** The value is a list of ID-Length-Value objects. */
  readonly template?: boolean;
  /** Template whose sub-ID 00 must be a Globally Unique Identifier. */
  readonly gui?: boolean;
  /** RFU / reserved: reading it is fine, but nobody should emit it. */
  readonly reserved?: boolean;
}

const num = (id: string) => Number.parseInt(id, 10);

const MAI_OWNERS: [number, number, string][] = [
  [2, 3, 'Visa'],
  [4, 5, 'Mastercard'],
  [6, 8, 'EMVCo (reserved)'],
  [9, 10, 'Discover'],
  [11, 12, 'Amex'],
  [13, 14, 'JCB'],
  [15, 16, 'UnionPay'],
  [17, 25, 'EMVCo (reserved)'],
];

const ROOT_FIXED: Record<string, FieldSpec> = {
  '00': { name: 'Payload Format Indicator', format: 'N', fixed: 2, max: 2 },
  '01': { name: 'Point of Initiation Method', format: 'N', fixed: 2, max: 2 },
  '52': { name: 'Merchant Category Code', format: 'N', fixed: 4, max: 4 },
  '53': { name: 'Transaction Currency', format: 'N', fixed: 3, max: 3 },
  '54': { name: 'Transaction Amount', format: 'ans', max: 13 },
  '55': { name: 'Tip or Convenience Indicator', format: 'N', fixed: 2, max: 2 },
  '56': { name: 'Value of Convenience Fee Fixed', format: 'ans', max: 13 },
  '57': { name: 'Value of Convenience Fee Percentage', format: 'ans', max: 5 },
  '58': { name: 'Country Code', format: 'ans', fixed: 2, max: 2 },
  '59': { name: 'Merchant Name', format: 'ans', max: 25 },
  '60': { name: 'Merchant City', format: 'ans', max: 15 },
  '61': { name: 'Postal Code', format: 'ans', max: 10 },
  '62': { name: 'Additional Data Field Template', format: 'S', max: 99, template: true },
  '63': { name: 'CRC', format: 'ans', fixed: 4, max: 4 },
  '64': { name: 'Merchant Information - Language Template', format: 'S', max: 99, template: true },
};

/** Spec of a root ID ("00".."99"). */
export function rootSpec(id: string): FieldSpec {
  const fixed = ROOT_FIXED[id];
  if (fixed) return fixed;
  const n = num(id);
  if (n >= 2 && n <= 25) {
    const owner = MAI_OWNERS.find(([a, b]) => n >= a && n <= b)![2];
    return { name: `Merchant Account Information (${owner})`, format: 'ans', max: 99, reserved: owner.startsWith('EMVCo') };
  }
  if (n >= 26 && n <= 51)
    return { name: 'Merchant Account Information (template)', format: 'ans', max: 99, template: true, gui: true };
  if (n >= 65 && n <= 79) return { name: 'RFU for EMVCo', format: 'S', max: 99, reserved: true };
  return { name: 'Unreserved Template', format: 'S', max: 99, template: true, gui: true };
}

const ADDITIONAL: Record<string, FieldSpec> = {
  '01': { name: 'Bill Number', format: 'ans', max: 25 },
  '02': { name: 'Mobile Number', format: 'ans', max: 25 },
  '03': { name: 'Store Label', format: 'ans', max: 25 },
  '04': { name: 'Loyalty Number', format: 'ans', max: 25 },
  '05': { name: 'Reference Label', format: 'ans', max: 25 },
  '06': { name: 'Customer Label', format: 'ans', max: 25 },
  '07': { name: 'Terminal Label', format: 'ans', max: 25 },
  '08': { name: 'Purpose of Transaction', format: 'ans', max: 25 },
  '09': { name: 'Additional Consumer Data Request', format: 'ans', max: 3 },
  '10': { name: 'Merchant Tax ID (v1.1)', format: 'ans', max: 99 },
  '11': { name: 'Merchant Channel (v1.1)', format: 'ans', max: 99 },
};

/** Spec of a sub-ID inside template 62. */
export function additionalSpec(id: string): FieldSpec {
  const s = ADDITIONAL[id];
  if (s) return s;
  const n = num(id);
  if (n >= 50) return { name: 'Payment System specific template', format: 'S', max: 99, template: true, gui: true };
  return { name: 'RFU for EMVCo', format: 'S', max: 99, reserved: true };
}

const LANGUAGE: Record<string, FieldSpec> = {
  '00': { name: 'Language Preference', format: 'ans', fixed: 2, max: 2 },
  '01': { name: 'Merchant Name - Alternate Language', format: 'S', max: 25 },
  '02': { name: 'Merchant City - Alternate Language', format: 'S', max: 15 },
};

/** Spec of a sub-ID inside template 64. */
export function languageSpec(id: string): FieldSpec {
  return LANGUAGE[id] ?? { name: 'RFU for EMVCo', format: 'S', max: 99, reserved: true };
}

/** Spec of a sub-ID inside a GUI template (26-51, 80-99, 62-50..99); `format` is the parent's. */
export function guiTemplateSpec(id: string, format: CharFormat): FieldSpec {
  if (id === '00') return { name: 'Globally Unique Identifier', format: 'ans', max: 32 };
  return { name: 'Payment network specific', format, max: 99 };
}

/** Characters of the EMV `ans` set (printable ASCII 0x20-0x7E). */
export const ANS_RE = /^[\x20-\x7e]*$/;

/** GUI forms the spec allows: an AID (RID + optional PIX, 10-32 hex), a UUID without hyphens, a reverse domain name. */
export function guiForm(gui: string): 'aid' | 'uuid' | 'reverse-domain' | undefined {
  if (/^[0-9A-Fa-f]{32}$/.test(gui)) return 'uuid';
  if (/^[0-9A-Fa-f]{10,32}$/.test(gui) && gui.length % 2 === 0) return 'aid';
  if (/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(gui)) return 'reverse-domain';
  return undefined;
}
