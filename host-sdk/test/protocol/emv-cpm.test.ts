import { describe, expect, it } from 'vitest';
import {
  decodeBerTlv,
  decodeTrack2,
  EmvError,
  encodeBerTlv,
  encodeCpm,
  encodeTrack2,
  parseCpm,
  selectCpmApplication,
  toBase64,
} from '../../src/protocol/index';
import { hex } from './fixtures';

/** CPM v1.0 Annex B.1 (reference emv-qr.md §2). */
const SPEC_CPM = 'hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=';

const fault = (f: () => unknown): EmvError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EmvError);
    return e as EmvError;
  }
  throw new Error('accepted');
};
const b64 = (h: string) => toBase64(hex(h));

describe('EMV CPM', () => {
  it('reads the specification example', () => {
    const p = parseCpm(SPEC_CPM);
    expect(p.bytes.length).toBe(35);
    expect(p.formatIndicator).toBe('CPV01');
    expect(p.applications).toHaveLength(1);
    const app = p.applications[0]!;
    expect(app).toMatchObject({
      aid: 'A0000000555555',
      eligible: true,
      pan: '1234567890123458',
      track2: { pan: '1234567890123458', expiry: '1912', serviceCode: '201', discretionary: '12345' },
    });
    expect(selectCpmApplication(p, ['A000000055'])).toBe(app);
    expect(selectCpmApplication(p, ['A000000004'])).toBeUndefined();
  });

  it('encodes back to the same base64 and round-trips templates with transparent data', () => {
    const rebuilt = encodeCpm([
      {
        tag: '61',
        children: [
          { tag: '4F', value: hex('A0000000555555') },
          {
            tag: '57',
            value: encodeTrack2({ pan: '1234567890123458', expiry: '1912', serviceCode: '201', discretionary: '12345' }),
          },
        ],
      },
    ]);
    expect(rebuilt).toBe(SPEC_CPM);
    const two = encodeCpm([
      {
        tag: '61',
        children: [
          { tag: '4F', value: hex('A0000000041010') },
          { tag: '50', value: new TextEncoder().encode('MASTERCARD') },
          { tag: '5A', value: hex('5413330089010434') },
          { tag: '5F20', value: new TextEncoder().encode('DOE/JANE') },
          { tag: '9F25', value: hex('0434') },
          {
            tag: '63',
            children: [
              { tag: '9F26', value: hex('0102030405060708') },
              { tag: '9F36', value: hex('0001') },
              { tag: '9F37', value: hex('11223344') },
            ],
          },
        ],
      },
      {
        tag: '61',
        children: [
          { tag: '4F', value: hex('A0000000031010') },
          { tag: '5A', value: hex('4761739001010010') },
        ],
      },
      { tag: '62', children: [{ tag: '5F2D', value: new TextEncoder().encode('enzh') }] },
    ]);
    const p = parseCpm(two);
    expect(p.applications.map((a) => a.aid)).toEqual(['A0000000041010', 'A0000000031010']);
    expect(p.applications[0]).toMatchObject({
      label: 'MASTERCARD',
      pan: '5413330089010434',
      cardholderName: 'DOE/JANE',
      last4: '0434',
    });
    expect(p.applications[0]!.transparent).toEqual(
      encodeBerTlv([
        { tag: '9F26', value: hex('0102030405060708') },
        { tag: '9F36', value: hex('0001') },
        { tag: '9F37', value: hex('11223344') },
      ]),
    );
    expect(p.common?.languagePreference).toBe('enzh');
    expect(selectCpmApplication(p, ['A000000003'])?.aid).toBe('A0000000031010');
  });

  it('handles multi-byte tags and long-form lengths (0x81, 0x82)', () => {
    const v200 = new Uint8Array(200).fill(0xab);
    const v300 = new Uint8Array(300).fill(0xcd);
    const bytes = encodeBerTlv([
      { tag: '9F26', value: v200 },
      { tag: '5F50', value: v300 },
      { tag: 'DF8101', value: hex('01') },
    ]);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x9f, 0x26, 0x81, 200]);
    expect(Array.from(bytes.subarray(204, 209))).toEqual([0x5f, 0x50, 0x82, 0x01, 0x2c]);
    const nodes = decodeBerTlv(bytes);
    expect(nodes.map((n) => [n.tag, n.value.length, n.offset])).toEqual([
      ['9F26', 200, 0],
      ['5F50', 300, 204],
      ['DF8101', 1, 509],
    ]);
    expect(encodeBerTlv(nodes.map((n) => ({ tag: n.tag, value: n.value })))).toEqual(bytes);
  });

  it('refuses malformed TLV with the byte offset', () => {
    expect(fault(() => decodeBerTlv(hex('5A0A1234')))).toMatchObject({ code: 'TLV_LENGTH_PAST_END', offset: 0 });
    expect(fault(() => decodeBerTlv(hex('5A01125A')))).toMatchObject({ code: 'TLV_TRUNCATED', offset: 3 });
    expect(fault(() => decodeBerTlv(hex('9F')))).toMatchObject({ code: 'TLV_TRUNCATED', offset: 0 });
    expect(fault(() => decodeBerTlv(hex('5A8001')))).toMatchObject({ code: 'TLV_BAD_LENGTH', offset: 1 });
    expect(fault(() => decodeBerTlv(hex('5A85FFFFFFFFFF')))).toMatchObject({ code: 'TLV_BAD_LENGTH', offset: 1 });
    expect(fault(() => decodeBerTlv(hex('5A84FFFFFFFF00')))).toMatchObject({ code: 'TLV_LENGTH_PAST_END' });
    expect(fault(() => decodeBerTlv(hex('5A8201')))).toMatchObject({ code: 'TLV_TRUNCATED', offset: 1 });
    expect(fault(() => decodeBerTlv(hex('0001')))).toMatchObject({ code: 'TLV_BAD_TAG', offset: 0 });
    expect(fault(() => decodeBerTlv(hex('9F8181810100')))).toMatchObject({ code: 'TLV_BAD_TAG' });
    const nested = fault(() => decodeBerTlv(hex('61054F07000000')));
    expect(nested).toMatchObject({ code: 'TLV_LENGTH_PAST_END', offset: 2, idPath: ['61', '4F'] });
    let d = hex('5A0100');
    for (let i = 0; i < 12; i++) d = encodeBerTlv([{ tag: '61', value: d }]);
    expect(fault(() => decodeBerTlv(d)).code).toBe('TLV_TOO_DEEP');
  });

  it('applies the CPM reader rules with typed errors', () => {
    const PFI = '85054350563031';
    expect(fault(() => parseCpm('hello')).code).toBe('CPM_NOT_CPM');
    expect(fault(() => parseCpm(`hQVDUFYwMW!a${SPEC_CPM.slice(12)}`))).toMatchObject({ code: 'CPM_BAD_BASE64', offset: 10 });
    expect(fault(() => parseCpm(SPEC_CPM.slice(0, -1)))).toMatchObject({ code: 'CPM_BAD_BASE64', offset: 47 });
    expect(fault(() => parseCpm(SPEC_CPM.slice(0, 20))).code).toBe('TLV_LENGTH_PAST_END');
    expect(fault(() => parseCpm(`hQVDUFY${'A'.repeat(5000)}`)).code).toBe('CPM_TOO_LARGE');
    expect(fault(() => parseCpm(b64('8505435056303261034F0101'))).code).toBe('CPM_BAD_VERSION');
    expect(fault(() => parseCpm(b64(PFI))).code).toBe('CPM_NO_APPLICATION');
    expect(fault(() => parseCpm(hex(`6100${PFI}`)))).toMatchObject({ code: 'CPM_FIRST_NOT_85', offset: 0 });
    expect(fault(() => parseCpm(b64(`${PFI}610D4F05A0000000015A01125A0113`)))).toMatchObject({
      code: 'CPM_DUPLICATE',
      idPath: ['61', '5A'],
    });
    expect(fault(() => parseCpm(b64(`${PFI}610A4F05A0000000015A01126203500141`))).code).toBe('CPM_COMMON_WITHOUT_TWO');
    expect(fault(() => parseCpm(b64(`${PFI}610A4F05A0000000015A0112${PFI}`))).code).toBe('CPM_DUPLICATE');
    const ineligible = parseCpm(b64(`${PFI}610A4F03A000005A03123456`));
    expect(ineligible.applications[0]!.eligible).toBe(false);
    expect(selectCpmApplication(ineligible, ['A000'])).toBeUndefined();
    expect(fault(() => decodeTrack2(hex('1234E19122')))).toMatchObject({ code: 'CPM_BAD_TRACK2' });
    expect(fault(() => parseCpm(42 as unknown as string)).code).toBe('CPM_TYPE');
  });
});
