/**
 * National MPM profiles (reference emv-qr.md §5) as data: where the account sits, its
 * GUI, the sub-fields and their grammar, and which plain-EMVCo rules the scheme bends
 * on purpose (`tolerate`: those problems are reported with severity
 * 'profile-deviation' instead of 'error'/'should' once the profile is recognised).
 */
import type { Severity } from './problems';

export type ProfileId =
  | 'pix'
  | 'promptpay'
  | 'paynow'
  | 'sgqr'
  | 'qris'
  | 'duitnow'
  | 'vietqr'
  | 'vnpay'
  | 'bharatqr'
  | 'fps'
  | 'handset';

export interface SubFieldSpec {
  readonly name: string;
  /** Regular-expression source the value must match (whole value). */
  readonly pattern?: string;
  readonly required?: boolean;
  /** The value is itself an ID-Length-Value template (e.g. VietQR 38-01). */
  readonly template?: Readonly<Record<string, SubFieldSpec>>;
}

export interface AccountTemplateSpec {
  /** Root IDs the template normally uses (templates found elsewhere still match by GUI). */
  readonly ids: readonly string[];
  /** GUI values (compared case-insensitively). */
  readonly guis: readonly string[];
  readonly fields: Readonly<Record<string, SubFieldSpec>>;
  /** At least one of these sub-IDs must be present. */
  readonly oneOf?: readonly string[];
  /** Sub-ID that `--account VALUE` fills when building. */
  readonly primary?: string;
}

/** A plain-EMVCo problem the scheme emits by design. `ids`: only at these ID paths (joined with "."). */
export interface Tolerance {
  readonly code: string;
  readonly ids?: readonly string[];
}

export type ProfileRule =
  /** 01 must be "12" when 54 is present. */
  | { readonly kind: 'dynamic-if-amount'; readonly severity: Severity }
  /** Template 62 must carry this sub-ID (e.g. Pix txid in 62-05, "***" when none). */
  | { readonly kind: 'additional-required'; readonly subId: string; readonly severity: Severity };

export interface ProfileSpec {
  readonly id: ProfileId;
  readonly name: string;
  readonly country?: string;
  /** ISO 4217 numeric codes the scheme uses. */
  readonly currencies?: readonly string[];
  readonly accounts: readonly AccountTemplateSpec[];
  /** Also recognised without a GUI match when these root IDs are present and 58 equals `country`. */
  readonly rootIds?: readonly string[];
  readonly tolerate: readonly Tolerance[];
  readonly rules?: readonly ProfileRule[];
  /** One-line description of the deviations, for docs and `--help`. */
  readonly deviations: string;
}

const DIGITS = (n: string) => `[0-9]{${n}}`;

const PROFILE_LIST: ProfileSpec[] = [
  {
    id: 'pix',
    name: 'Brazil Pix / BR Code',
    country: 'BR',
    currencies: ['986'],
    accounts: [
      {
        ids: ['26'],
        guis: ['br.gov.bcb.pix'],
        fields: {
          '01': { name: 'Pix key', pattern: '.{1,77}' },
          '02': { name: 'Additional info', pattern: '.{1,72}' },
          '03': { name: 'FSS' },
          '25': { name: 'PSP URL (dynamic, no scheme)', pattern: '(?!https?://)[^ ]{1,77}' },
        },
        oneOf: ['01', '25'],
        primary: '01',
      },
      { ids: ['80'], guis: ['br.gov.bcb.pix'], fields: { '25': { name: 'Pix Automatico recurrence URL' } } },
    ],
    tolerate: [
      { code: 'FIELD_TOO_LONG', ids: ['59', '60'] },
      { code: 'MISSING_MANDATORY', ids: ['60'] },
      { code: 'CHARSET_ANS', ids: ['59', '60', '26.02'] },
    ],
    rules: [{ kind: 'additional-required', subId: '05', severity: 'should' }],
    deviations:
      '52 = "0000"; names/cities often over-long; dynamic codes (26-25 URL) are fetched as a JWS, where 54 and 62-05 are ignored',
  },
  {
    id: 'promptpay',
    name: 'Thailand PromptPay',
    country: 'TH',
    currencies: ['764'],
    accounts: [
      {
        ids: ['29'],
        guis: ['A000000677010111'],
        fields: {
          '01': { name: 'Mobile number (0066...)', pattern: `0066${DIGITS('9')}` },
          '02': { name: 'National ID / tax ID', pattern: DIGITS('13') },
          '03': { name: 'E-wallet ID', pattern: DIGITS('15') },
        },
        oneOf: ['01', '02', '03'],
        primary: '01',
      },
      {
        ids: ['30'],
        guis: ['A000000677010112'],
        fields: { '01': { name: 'Biller ID', required: true }, '02': { name: 'Reference 1' }, '03': { name: 'Reference 2' } },
        primary: '01',
      },
    ],
    tolerate: [{ code: 'MISSING_MANDATORY', ids: ['52', '59', '60'] }],
    rules: [{ kind: 'dynamic-if-amount', severity: 'should' }],
    deviations: 'person-to-person codes omit 52, 59, 60; 01 = "12" whenever an amount is present',
  },
  {
    id: 'paynow',
    name: 'Singapore PayNow',
    country: 'SG',
    currencies: ['702'],
    accounts: [
      {
        ids: ['26'],
        guis: ['SG.PAYNOW'],
        fields: {
          '01': { name: 'Proxy type (0 mobile, 2 UEN)', pattern: '[02]', required: true },
          '02': { name: 'Proxy value', required: true },
          '03': { name: 'Amount editable (0/1)', pattern: '[01]' },
          '04': { name: 'Expiry YYYYMMDD', pattern: DIGITS('8') },
        },
        primary: '02',
      },
    ],
    tolerate: [{ code: 'PAYLOAD_OVER_512' }],
    deviations: 'the PayNow template may sit at any ID 26-51 inside a multi-scheme SGQR',
  },
  {
    id: 'sgqr',
    name: 'Singapore SGQR',
    country: 'SG',
    currencies: ['702'],
    accounts: [
      {
        ids: ['51'],
        guis: ['SG.SGQR'],
        fields: {
          '01': { name: 'SGQR ID number' },
          '02': { name: 'Version' },
          '03': { name: 'Postal code' },
          '04': { name: 'Level' },
          '05': { name: 'Unit number' },
          '06': { name: 'Miscellaneous' },
          '07': { name: 'Date' },
        },
      },
    ],
    tolerate: [{ code: 'PAYLOAD_OVER_512' }],
    deviations: 'one code carries card primitives plus a dozen wallet templates; often far over 512 characters',
  },
  {
    id: 'qris',
    name: 'Indonesia QRIS',
    country: 'ID',
    currencies: ['360'],
    accounts: [
      {
        ids: ['51'],
        guis: ['ID.CO.QRIS.WWW', 'ID.OR.GPNQR.WWW'],
        fields: {
          '02': { name: 'National merchant ID', pattern: 'ID[12]0[0-9A-Z]{1,26}', required: true },
          '03': { name: 'Merchant criteria', pattern: 'UMI|UKE|UME|UBE|URE' },
        },
        primary: '02',
      },
    ],
    tolerate: [],
    deviations:
      'issuer/acquirer template in 26 (01 merchant PAN 9360..., 02 merchant id, 03 criteria); static codes re-used with 54/55/56 inserted',
  },
  {
    id: 'duitnow',
    name: 'Malaysia DuitNow QR',
    country: 'MY',
    currencies: ['458'],
    accounts: [
      {
        ids: ['26'],
        guis: ['A0000006150001'],
        fields: { '01': { name: 'Acquirer ID', required: true }, '02': { name: 'Merchant / recipient ID', required: true } },
        primary: '02',
      },
    ],
    tolerate: [
      { code: 'PFI_VALUE', ids: ['00'] },
      { code: 'GUI_MISSING', ids: ['82'] },
      { code: 'TEMPLATE_NOT_ILV', ids: ['82'] },
    ],
    deviations: 'Payload Format Indicator "02"; ID 82 holds a data-integrity value without a GUI',
  },
  {
    id: 'vietqr',
    name: 'Vietnam VietQR (NAPAS)',
    country: 'VN',
    currencies: ['704'],
    accounts: [
      {
        ids: ['38'],
        guis: ['A000000727'],
        fields: {
          '01': {
            name: 'Beneficiary organisation',
            required: true,
            template: {
              '00': { name: 'Bank BIN', pattern: DIGITS('6'), required: true },
              '01': { name: 'Account / card number', required: true },
            },
          },
          '02': { name: 'Service code', pattern: 'QRIBFTTA|QRIBFTTC|QRPUSH' },
        },
      },
    ],
    tolerate: [
      { code: 'MISSING_MANDATORY', ids: ['52', '59', '60'] },
      { code: 'FIELD_TOO_LONG', ids: ['59', '60'] },
      { code: 'CRC_LOWERCASE' },
    ],
    deviations: 'transfer codes omit 52/59/60; bill codes exceed name limits; some banks emit lower-case CRCs',
  },
  {
    id: 'vnpay',
    name: 'Vietnam VNPAY-QR',
    country: 'VN',
    currencies: ['704'],
    accounts: [{ ids: ['26'], guis: ['A000000775'], fields: {} }],
    tolerate: [{ code: 'CRC_LOWERCASE' }, { code: 'FIELD_TOO_LONG', ids: ['59', '60'] }],
    deviations: 'merchant template in 26 with A000000775; lower-case CRCs seen',
  },
  {
    id: 'bharatqr',
    name: 'India Bharat QR / UPI',
    country: 'IN',
    currencies: ['356'],
    accounts: [
      {
        ids: ['26'],
        guis: ['A000000524'],
        fields: {
          '01': { name: 'UPI VPA', pattern: '[A-Za-z0-9._-]{2,}@[A-Za-z0-9.-]{2,}', required: true },
          '02': { name: 'Minimum amount' },
        },
        primary: '01',
      },
      {
        ids: ['27'],
        guis: ['A000000524'],
        fields: { '01': { name: 'Transaction reference' }, '02': { name: 'Minimum amount' } },
      },
    ],
    rootIds: ['06', '08'],
    tolerate: [{ code: 'RESERVED_ID', ids: ['06', '07', '08'] }],
    deviations: 'RuPay in 06 and IFSC+account in 08, which MPM v1.0 reserves for EMVCo',
  },
  {
    id: 'fps',
    name: 'Hong Kong FPS',
    country: 'HK',
    currencies: ['344', '156'],
    accounts: [
      {
        ids: ['26'],
        guis: ['hk.com.hkicl'],
        fields: {
          '01': { name: 'Participant (bank) code', pattern: DIGITS('3') },
          '02': { name: 'FPS ID', pattern: '[0-9]{7}|[0-9]{9}' },
          '03': { name: 'Mobile number', pattern: '\\+852-[0-9]{8}' },
          '04': { name: 'Email' },
        },
        oneOf: ['02', '03', '04'],
        primary: '02',
      },
    ],
    tolerate: [],
    deviations: 'merchant name often "NA"; 62-05 carries the reference; currency 344 or 156',
  },
  {
    id: 'handset',
    name: 'Handset merchant account (ours)',
    accounts: [
      {
        ids: ['26'],
        guis: ['io.handset.pay'],
        fields: {
          '01': { name: 'Merchant id', pattern: 'm-[A-Za-z0-9_-]{1,62}', required: true },
          '02': { name: 'Order reference (dynamic codes)', pattern: '[A-Za-z0-9][A-Za-z0-9_-]{0,24}' },
        },
        primary: '01',
      },
    ],
    tolerate: [],
    deviations: 'none: plain EMVCo; dynamic codes carry the order reference in 26-02 and 62-05',
  },
];

/** Every profile, in detection order. */
export const PROFILES: readonly ProfileSpec[] = Object.freeze(PROFILE_LIST);

export const HANDSET_GUI = 'io.handset.pay';

export function profileById(id: string): ProfileSpec | undefined {
  return PROFILES.find((p) => p.id === id);
}
