import { describe, expect, it } from 'vitest';
import {
  buildMpm,
  crc16CcittFalse,
  EmvError,
  encodeMpm,
  MpmBuildError,
  type MpmNode,
  type MpmParseResult,
  mpmCrc,
  parseMpm,
} from '../../src/protocol/index';
import { SPEC_B7 } from './fixtures';

const codes = (r: MpmParseResult, severity?: string) =>
  r.problems.filter((p) => !severity || p.severity === severity).map((p) => p.code);
const problem = (r: MpmParseResult, code: string) => {
  const p = r.problems.find((x) => x.code === code);
  if (!p) throw new Error(`no ${code} in ${JSON.stringify(r.problems)}`);
  return p;
};
/** Encodes nodes with a correct CRC, so only the rule under test fails. */
const enc = (nodes: MpmNode[]) => encodeMpm(nodes);
const base = (over: Record<string, string | MpmNode[] | undefined> = {}): MpmNode[] => {
  // An array, not an object: integer-like keys ("26", "52") would be reordered before "00".
  const fields: [string, string | MpmNode[] | undefined][] = [
    ['00', '01'],
    ['01', '12'],
    [
      '26',
      [
        { id: '00', value: 'io.handset.pay' },
        { id: '01', value: 'm-cafe' },
      ],
    ],
    ['52', '5812'],
    ['53', '840'],
    ['54', '12.50'],
    ['58', 'US'],
    ['59', 'CAFE'],
    ['60', 'BOSTON'],
  ];
  for (const [id, v] of Object.entries(over)) {
    const at = fields.findIndex(([k]) => k === id);
    if (at >= 0) fields[at] = [id, v];
    else fields.push([id, v]);
  }
  return fields
    .filter(([, v]) => v !== undefined)
    .map(([id, v]) => (typeof v === 'string' ? { id, value: v } : { id, children: v as MpmNode[] }));
};

describe('EMV MPM: the specification example (Annex B.7)', () => {
  it('reads the Chinese-text example with its A13A CRC over UTF-8 bytes', () => {
    const r = parseMpm(SPEC_B7);
    expect(r.crc).toEqual({ given: 'A13A', computed: 'A13A' });
    expect(r.crcValid).toBe(true);
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(Array.from(SPEC_B7).length).toBe(248);
    expect(new TextEncoder().encode(SPEC_B7).length).toBe(260);
    expect(r.needsUtf8Eci).toBe(true);
    expect(r.objects.map((o) => o.id)).toEqual([
      '00',
      '01',
      '29',
      '31',
      '52',
      '58',
      '59',
      '60',
      '64',
      '54',
      '53',
      '55',
      '62',
      '91',
      '63',
    ]);
    expect(r.data).toMatchObject({
      initiation: 'dynamic',
      mcc: '4111',
      currency: { numeric: '156', alpha: 'CNY', exponent: 2 },
      amount: { text: '23.72', minor: 2372n },
      countryCode: 'CN',
      merchantName: 'BEST TRANSPORT',
      merchantCity: 'BEIJING',
      tip: { indicator: '01' },
      additionalData: { '03': '1234', '06': '***', '07': 'A6008667', '09': 'ME' },
      prompts: ['06'],
      language: { preference: 'ZH', merchantName: '最佳运输', merchantCity: '北京' },
    });
    const lang = r.objects.find((o) => o.id === '64')!;
    expect(lang.length).toBe(20);
    expect(lang.children!.find((c) => c.id === '01')!.length).toBe(4);
  });

  it('differs from the UTF-16 code-unit bug (C919) and round-trips byte-exactly', () => {
    const prefix = SPEC_B7.slice(0, -4);
    const lowBytes = Uint8Array.from(prefix, (c) => c.charCodeAt(0) & 0xff);
    expect(crc16CcittFalse(lowBytes).toString(16).toUpperCase()).toBe('C919');
    expect(mpmCrc(prefix)).toBe('A13A');
    expect(encodeMpm(parseMpm(SPEC_B7).objects)).toBe(SPEC_B7);
  });

  it('has the catalogued CRC-16/CCITT-FALSE check value', () => {
    expect(crc16CcittFalse(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });

  it('accepts a lower-case CRC with a should-level note and emits upper case', () => {
    const lower = SPEC_B7.slice(0, -4) + 'a13a';
    const r = parseMpm(lower);
    expect(r.ok).toBe(true);
    expect(problem(r, 'CRC_LOWERCASE').severity).toBe('should');
    expect(encodeMpm(r.objects)).toBe(SPEC_B7);
  });

  it('zero-pads CRCs below 0x1000 to 4 digits', () => {
    let found = '';
    for (let i = 0; i < 5000 && !found; i++) {
      const p = enc(base({ '59': `SHOP ${i}` }));
      if (p.slice(-4).startsWith('0')) found = p;
    }
    expect(found).not.toBe('');
    expect(found.slice(-8, -4)).toBe('6304');
    expect(parseMpm(found).ok).toBe(true);
  });
});

describe('EMV MPM: CRC and structure faults', () => {
  it('refuses a bad CRC but still reads the fields', () => {
    const bad = SPEC_B7.slice(0, -4) + 'A13B';
    const r = parseMpm(bad);
    expect(r.ok).toBe(false);
    expect(r.crcValid).toBe(false);
    expect(problem(r, 'CRC_MISMATCH')).toMatchObject({ severity: 'error', offset: 244, idPath: ['63'] });
    expect(r.data.merchantName).toBe('BEST TRANSPORT');
  });

  it('refuses a missing CRC, a CRC that is not hex, and a CRC computed without "6304"', () => {
    expect(codes(parseMpm(SPEC_B7.slice(0, -8)))).toContain('CRC_MISSING');
    expect(codes(parseMpm(SPEC_B7.slice(0, -4) + 'XYZW'))).toContain('CRC_FORMAT');
    const body = SPEC_B7.slice(0, -8);
    expect(parseMpm(`${body}6304${mpmCrc(body)}`).crcValid).toBe(false);
  });

  it('reports structural faults with their character offset', () => {
    const ok = enc(base());
    const r1 = parseMpm(ok.replace('5204', '5X04'));
    expect(problem(r1, 'ILV_BAD_ID').offset).toBe(ok.indexOf('5204'));
    const r2 = parseMpm(ok.replace('5204', '52A4'));
    expect(problem(r2, 'ILV_BAD_LENGTH').offset).toBe(ok.indexOf('5204') + 2);
    const r3 = parseMpm(ok.replace('5204', '5200'));
    expect(problem(r3, 'ILV_BAD_LENGTH').severity).toBe('error');
    const past = enc([{ id: '00', value: '01' }]).slice(0, 6) + '5999ABC';
    const r4 = parseMpm(past);
    expect(problem(r4, 'ILV_LENGTH_PAST_END').offset).toBe(8);
    expect(problem(parseMpm('000201'), 'CRC_MISSING').severity).toBe('error');
    expect(codes(parseMpm('0002012'))).toContain('ILV_TRUNCATED');
    expect(codes(parseMpm('00020'))).toContain('ILV_LENGTH_PAST_END');
  });

  it('counts lengths in characters: a byte-length field is wrong', () => {
    const good = enc(
      base({
        '64': [
          { id: '00', value: 'ZH' },
          { id: '01', value: '最佳运输' },
        ],
      }),
    );
    expect(parseMpm(good).ok).toBe(true);
    const byteLength = good.replace('0104最佳运输', '0112最佳运输');
    const r = parseMpm(encodeMpm([], { crc: false }) + byteLength);
    expect(r.ok).toBe(false);
  });

  it('flags a template whose value is a plain value, at the position inside it', () => {
    const p = enc(base({ '26': undefined, '27': undefined, '62': undefined }).concat([{ id: '28', value: 'HELLO WORLD' }]));
    const r = parseMpm(p);
    const prob = problem(r, 'TEMPLATE_NOT_ILV');
    expect(prob.idPath).toEqual(['28']);
    expect(prob.offset).toBe(p.indexOf('HELLO'));
    expect(r.ok).toBe(false);
  });

  it('never parses a primitive Merchant Account (02-25) as a template', () => {
    const p = enc(base({ '26': undefined, '02': '0012D156000000000510A93FO3230Q' }));
    const r = parseMpm(p);
    expect(r.ok).toBe(true);
    expect(r.objects.find((o) => o.id === '02')!.children).toBeUndefined();
    expect(r.data.merchantAccounts).toEqual([{ id: '02', value: '0012D156000000000510A93FO3230Q' }]);
  });

  it('enforces uniqueness and order (00 first, 63 last)', () => {
    const dup = enc([...base(), { id: '59', value: 'AGAIN' }]);
    expect(problem(parseMpm(dup), 'DUPLICATE_ID')).toMatchObject({ severity: 'error', idPath: ['59'] });
    const nodes = base();
    const swapped = enc([nodes[1]!, nodes[0]!, ...nodes.slice(2)]);
    expect(codes(parseMpm(swapped))).toContain('ORDER_00_NOT_FIRST');
    const inner = enc(
      base({
        '62': [
          { id: '05', value: 'A' },
          { id: '05', value: 'B' },
        ],
      }),
    );
    expect(problem(parseMpm(inner), 'DUPLICATE_ID').idPath).toEqual(['62', '05']);
    const crcInside = `${encodeMpm(base(), { crc: false })}6304ABCD5902XY`;
    const withCrc = `${crcInside}6304${mpmCrc(`${crcInside}6304`)}`;
    expect(codes(parseMpm(withCrc))).toContain('DUPLICATE_ID');
  });

  it('refuses hostile input without throwing: invalid UTF-8, 10 kB, lone surrogates, empty, wrong types', () => {
    const bytes = new TextEncoder().encode(SPEC_B7);
    expect(parseMpm(bytes).ok).toBe(true);
    const broken = bytes.slice();
    broken[100] = 0xff;
    expect(parseMpm(broken).problems[0]).toMatchObject({ code: 'INVALID_UTF8', offset: 100, severity: 'error' });
    const truncatedChar = bytes.slice(0, bytes.indexOf(0xe6) + 1);
    expect(parseMpm(truncatedChar).problems[0]!.code).toBe('INVALID_UTF8');
    expect(parseMpm('0'.repeat(10_000)).problems[0]!.code).toBe('PAYLOAD_TOO_LARGE');
    expect(parseMpm(new Uint8Array(100_000)).problems[0]!.code).toBe('PAYLOAD_TOO_LARGE');
    expect(parseMpm(`0002\uD80001`).problems[0]!.code).toBe('INVALID_UNICODE');
    expect(parseMpm('').problems[0]!.code).toBe('PAYLOAD_EMPTY');
    expect(parseMpm(42 as unknown as string).problems[0]!.code).toBe('PAYLOAD_TYPE');
  });
});

describe('EMV MPM: field rules', () => {
  it('checks mandatory objects and values', () => {
    for (const id of ['52', '53', '58', '59', '60']) {
      const r = parseMpm(enc(base({ [id]: undefined })));
      expect(problem(r, 'MISSING_MANDATORY'), id).toMatchObject({ severity: 'error', idPath: [id] });
    }
    expect(codes(parseMpm(enc(base({ '26': undefined }))))).toContain('MISSING_MAI');
    expect(codes(parseMpm(enc(base({ '00': '02' }))))).toContain('PFI_VALUE');
    expect(codes(parseMpm(enc(base({ '01': '13' }))))).toContain('POI_VALUE');
    expect(codes(parseMpm(enc(base({ '52': '58A2' }))))).toContain('CHARSET_N');
    expect(codes(parseMpm(enc(base({ '53': '8400' }))))).toContain('FIELD_LENGTH');
    expect(problem(parseMpm(enc(base({ '59': 'A VERY LONG MERCHANT NAME IS HERE' }))), 'FIELD_TOO_LONG').idPath).toEqual(['59']);
    expect(problem(parseMpm(enc(base({ '59': 'CAFÉ' }))), 'CHARSET_ANS').severity).toBe('should');
    expect(problem(parseMpm(enc(base({ '58': 'us' }))), 'COUNTRY_FORMAT').severity).toBe('should');
    expect(problem(parseMpm(enc(base({ '53': '999' }))), 'CURRENCY_UNKNOWN').severity).toBe('should');
  });

  it('checks the amount grammar, zero, and the currency exponent', () => {
    for (const ok of ['98.73', '98', '98.']) expect(parseMpm(enc(base({ '54': ok }))).ok, ok).toBe(true);
    for (const bad of ['98,73', '3 705', '-1', '1e3', '.5'])
      expect(codes(parseMpm(enc(base({ '54': bad })))), bad).toContain('AMOUNT_SYNTAX');
    expect(codes(parseMpm(enc(base({ '54': '0.00' }))))).toContain('AMOUNT_ZERO');
    expect(codes(parseMpm(enc(base({ '54': '0' }))))).toContain('AMOUNT_ZERO');
    const dec = parseMpm(enc(base({ '54': '1.234' })));
    expect(problem(dec, 'AMOUNT_DECIMALS').severity).toBe('should');
    expect(dec.data.amount?.minor).toBeUndefined();
    const jpy = parseMpm(enc(base({ '53': '392', '54': '500' })));
    expect(jpy.data.amount).toEqual({ text: '500', minor: 500n });
    expect(parseMpm(enc(base({ '54': '98.' }))).data.amount?.minor).toBe(9800n);
    expect(codes(parseMpm(enc(base({ '54': '99999999999999' }))))).toContain('FIELD_TOO_LONG');
  });

  it('checks the tip and convenience-fee rules (55/56/57)', () => {
    const with_ = (o: Record<string, string>) => codes(parseMpm(enc(base(o))), 'error');
    expect(with_({ '55': '01' })).toEqual([]);
    expect(with_({ '55': '01', '56': '1.00' })).toContain('TIP_FEE_UNEXPECTED');
    expect(with_({ '55': '02', '56': '1.00' })).toEqual([]);
    expect(with_({ '55': '02' })).toContain('TIP_FEE_MISSING');
    expect(with_({ '55': '02', '56': '0.00' })).toContain('FEE_ZERO');
    expect(with_({ '55': '02', '56': '1.00', '57': '3.00' })).toContain('TIP_FEE_UNEXPECTED');
    expect(with_({ '55': '03', '57': '3.00' })).toEqual([]);
    expect(with_({ '55': '03', '57': '99.99' })).toEqual([]);
    expect(with_({ '55': '03' })).toContain('TIP_FEE_MISSING');
    expect(with_({ '55': '03', '57': '0.00' })).toContain('FEE_PERCENT_RANGE');
    expect(with_({ '55': '03', '57': '3%' })).toContain('FEE_PERCENT_RANGE');
    expect(with_({ '55': '03', '57': '100' })).toContain('FEE_PERCENT_RANGE');
    expect(with_({ '56': '1.00' })).toContain('TIP_FEE_UNEXPECTED');
    expect(with_({ '57': '1.00' })).toContain('TIP_FEE_UNEXPECTED');
    expect(with_({ '55': '04' })).toContain('TIP_VALUE');
    expect(with_({ '54': undefined as unknown as string, '55': '01' })).toEqual([]);
  });

  it('checks templates 62 and 64 and the GUI rule', () => {
    expect(codes(parseMpm(enc(base({ '62': [{ id: '09', value: 'AME' }] }))), 'error')).toEqual([]);
    expect(codes(parseMpm(enc(base({ '62': [{ id: '09', value: 'AA' }] }))))).toContain('CONSUMER_DATA_REQUEST');
    expect(codes(parseMpm(enc(base({ '62': [{ id: '09', value: 'X' }] }))))).toContain('CONSUMER_DATA_REQUEST');
    expect(problem(parseMpm(enc(base({ '62': [{ id: '01', value: 'A'.repeat(26) }] }))), 'FIELD_TOO_LONG').idPath).toEqual([
      '62',
      '01',
    ]);
    expect(parseMpm(enc(base({ '62': [{ id: '05', value: '***' }] }))).data.prompts).toEqual(['05']);
    expect(
      parseMpm(
        enc(
          base({
            '62': [
              { id: '10', value: 'TAX1' },
              { id: '11', value: '123' },
            ],
          }),
        ),
      ).problems,
    ).toEqual([]);
    expect(problem(parseMpm(enc(base({ '62': [{ id: '20', value: 'X' }] }))), 'RESERVED_ID').severity).toBe('should');
    const sub50 = parseMpm(enc(base({ '62': [{ id: '50', children: [{ id: '01', value: 'X' }] }] })));
    expect(problem(sub50, 'GUI_MISSING').idPath).toEqual(['62', '50']);
    expect(codes(parseMpm(enc(base({ '64': [{ id: '01', value: '名' }] }))))).toContain('LANGUAGE_MISSING');
    expect(codes(parseMpm(enc(base({ '64': [{ id: '00', value: 'ZH' }] }))))).toContain('LANGUAGE_MISSING');
    expect(
      problem(
        parseMpm(
          enc(
            base({
              '64': [
                { id: '00', value: 'ZH' },
                { id: '01', value: 'Cafe\u0301' },
              ],
            }),
          ),
        ),
        'NOT_PRECOMPOSED',
      ).severity,
    ).toBe('should');
    expect(problem(parseMpm(enc(base({ '27': [{ id: '01', value: 'X' }] }))), 'GUI_MISSING').idPath).toEqual(['27']);
    expect(
      problem(
        parseMpm(
          enc(
            base({
              '80': [
                { id: '01', value: 'X' },
                { id: '00', value: 'com.x' },
              ],
            }),
          ),
        ),
        'GUI_NOT_FIRST',
      ).severity,
    ).toBe('should');
    expect(problem(parseMpm(enc(base({ '27': [{ id: '00', value: 'not a gui!' }] }))), 'GUI_FORM').severity).toBe('should');
    for (const gui of ['D840000000', 'A0000006770101110000000000000000', 'com.merchant.name'])
      expect(codes(parseMpm(enc(base({ '27': [{ id: '00', value: gui }] })))), gui).not.toContain('GUI_FORM');
    expect(problem(parseMpm(enc(base({ '70': 'X' }))), 'RESERVED_ID').severity).toBe('should');
    expect(problem(parseMpm(enc(base({ '07': 'X' }))), 'RESERVED_ID').severity).toBe('should');
    const big = parseMpm(
      enc(
        base({
          '80': [
            { id: '00', value: 'com.x' },
            ...Array.from({ length: 4 }, (_, i) => ({ id: `0${i + 1}`, value: 'x'.repeat(15) })),
          ],
        }).concat(
          Array.from({ length: 6 }, (_, i) => ({
            id: String(81 + i),
            children: [
              { id: '00', value: 'com.x' },
              { id: '01', value: 'y'.repeat(80) },
            ],
          })),
        ),
      ),
    );
    expect(problem(big, 'PAYLOAD_OVER_512').severity).toBe('should');
  });
});

describe('EMV MPM: encoder', () => {
  it('writes lengths in characters and refuses what cannot be encoded', () => {
    expect(encodeMpm([{ id: '59', value: '最佳' }], { crc: false })).toBe('5902最佳');
    expect(encodeMpm([{ id: '59', value: '😀' }], { crc: false })).toBe('5901😀');
    const e = (nodes: MpmNode[]) => {
      try {
        encodeMpm(nodes);
      } catch (err) {
        expect(err).toBeInstanceOf(EmvError);
        return (err as EmvError).code;
      }
      return 'none';
    };
    expect(e([{ id: '5', value: 'x' }])).toBe('ENCODE_BAD_ID');
    expect(e([{ id: '59', value: '' }])).toBe('ENCODE_EMPTY_VALUE');
    expect(e([{ id: '59', value: 'x'.repeat(100) }])).toBe('ENCODE_VALUE_TOO_LONG');
    expect(e([{ id: '62', children: [{ id: '01', value: 'x'.repeat(97) }] }])).toBe('ENCODE_VALUE_TOO_LONG');
    expect(e([{ id: '59', value: '\uD800' }])).toBe('ENCODE_BAD_TEXT');
  });

  it('builds valid codes and refuses invalid build specs with typed errors', () => {
    const p = buildMpm({
      merchantName: 'CAFE',
      merchantCity: 'BERLIN',
      mcc: '5812',
      currency: 'EUR',
      country: 'DE',
      amount: 1250n,
      merchantId: 'm-cafe',
      reference: 'ORD-1',
    });
    const r = parseMpm(p);
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.data).toMatchObject({
      initiation: 'dynamic',
      amount: { text: '12.50', minor: 1250n },
      handset: { merchantId: 'm-cafe', orderRef: 'ORD-1' },
    });
    expect(r.data.additionalData?.['05']).toBe('ORD-1');
    expect(r.profiles).toEqual(['handset']);
    const s = parseMpm(
      buildMpm({ merchantName: 'CAFE', merchantCity: 'TOKYO', mcc: '5812', currency: 'JPY', merchantId: 'm-x' }),
    );
    expect(s.data).toMatchObject({ initiation: 'static', countryCode: 'JP' });
    expect(s.data.amount).toBeUndefined();
    // EUR and X.. currencies name no country: the builder asks for one instead of writing "EU"
    expect(() =>
      buildMpm({ merchantName: 'CAFE', merchantCity: 'BERLIN', mcc: '5812', currency: 'EUR', merchantId: 'm-x' }),
    ).toThrow(expect.objectContaining({ code: 'COUNTRY_REQUIRED' }));
    expect(
      parseMpm(
        buildMpm({
          merchantName: 'CAFE',
          merchantCity: 'BERLIN',
          mcc: '5812',
          currency: 'EUR',
          country: 'DE',
          merchantId: 'm-x',
        }),
      ).data.countryCode,
    ).toBe('DE');
    const lang = parseMpm(
      buildMpm({
        merchantName: 'BEST TRANSPORT',
        merchantCity: 'BEIJING',
        mcc: '4111',
        currency: 'CNY',
        merchantId: 'm-bt',
        language: { preference: 'ZH', merchantName: '最佳运输', merchantCity: '北京' },
        tip: { kind: 'prompt' },
      }),
    );
    expect(lang.ok).toBe(true);
    expect(lang.needsUtf8Eci).toBe(true);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(EmvError);
        return (err as EmvError).code;
      }
      return 'none';
    };
    const spec = { merchantName: 'CAFE', merchantCity: 'X', mcc: '5812', currency: 'USD', merchantId: 'm-1' };
    expect(code(() => buildMpm({ ...spec, amount: '1.234' }))).toBe('AMOUNT_TOO_MANY_DECIMALS');
    expect(code(() => buildMpm({ ...spec, amount: '-1' }))).toBe('AMOUNT_NEGATIVE');
    expect(code(() => buildMpm({ ...spec, amount: '0' }))).toBe('AMOUNT_ZERO');
    expect(code(() => buildMpm({ ...spec, amount: 98.73 as unknown as string }))).toBe('AMOUNT_FLOAT');
    expect(code(() => buildMpm({ ...spec, currency: 'XYZ' }))).toBe('CURRENCY_UNKNOWN');
    expect(code(() => buildMpm({ ...spec, merchantName: 'X'.repeat(26) }))).toBe('MPM_BUILD_INVALID');
    expect(code(() => buildMpm({ ...spec, merchantId: 'nope' }))).toBe('MPM_BUILD_INVALID');
    expect(() => buildMpm({ ...spec, mcc: 'ABCD' })).toThrow(MpmBuildError);
  });
});
