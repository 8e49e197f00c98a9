import { describe, expect, it } from 'vitest';
import { buildMpm, encodeMpm, type MpmNode, type MpmParseResult, PROFILES, parseMpm } from '../../src/protocol/index';

const errors = (r: MpmParseResult) => r.problems.filter((p) => p.severity === 'error');
const deviations = (r: MpmParseResult) =>
  r.problems.filter((p) => p.severity === 'profile-deviation').map((p) => `${p.profile}:${p.code}:${p.idPath.join('.')}`);
const t = (id: string, ...kids: [string, string][]): MpmNode => ({ id, children: kids.map(([k, v]) => ({ id: k, value: v })) });
const v = (id: string, value: string): MpmNode => ({ id, value });

/** Real-world shaped codes per profile, each with the deviations its scheme emits by design. */
const CASES: { profile: string; nodes: MpmNode[]; deviations: string[]; lowerCrc?: boolean }[] = [
  {
    profile: 'pix',
    nodes: [
      v('00', '01'),
      t('26', ['00', 'BR.GOV.BCB.PIX'], ['01', '123e4567-e12b-12d1-a456-426655440000']),
      v('52', '0000'),
      v('53', '986'),
      v('54', '10.00'),
      v('58', 'BR'),
      v('59', 'FULANO DE TAL DA SILVA SAURO'),
      v('60', 'SAO PAULO DO CAMPO'),
      t('62', ['05', '***']),
    ],
    deviations: ['pix:FIELD_TOO_LONG:59', 'pix:FIELD_TOO_LONG:60'],
  },
  {
    profile: 'promptpay',
    nodes: [
      v('00', '01'),
      v('01', '11'),
      t('29', ['00', 'A000000677010111'], ['01', '0066812345678']),
      v('53', '764'),
      v('58', 'TH'),
    ],
    deviations: ['promptpay:MISSING_MANDATORY:52', 'promptpay:MISSING_MANDATORY:59', 'promptpay:MISSING_MANDATORY:60'],
  },
  {
    profile: 'paynow',
    nodes: [
      v('00', '01'),
      v('01', '12'),
      t('26', ['00', 'SG.PAYNOW'], ['01', '2'], ['02', '201403121W'], ['03', '0'], ['04', '20301231']),
      v('52', '0000'),
      v('53', '702'),
      v('54', '5.00'),
      v('58', 'SG'),
      v('59', 'NA'),
      v('60', 'Singapore'),
    ],
    deviations: [],
  },
  {
    profile: 'sgqr',
    nodes: [
      v('00', '01'),
      v('01', '11'),
      v('02', '4000000000000002'),
      v('04', '5100000000000008'),
      t('26', ['00', 'SG.PAYNOW'], ['01', '2'], ['02', '201403121W'], ['03', '1']),
      ...Array.from({ length: 12 }, (_, i) =>
        t(String(27 + i), ['00', `com.wallet${i}.sg`], ['01', `M${'0'.repeat(20)}${i}`], ['02', 'X'.repeat(20)]),
      ),
      t(
        '51',
        ['00', 'SG.SGQR'],
        ['01', '180000000001'],
        ['02', '01.0001'],
        ['03', '018989'],
        ['04', '01'],
        ['05', '01'],
        ['06', '0000'],
        ['07', '20180101'],
      ),
      v('52', '5812'),
      v('53', '702'),
      v('58', 'SG'),
      v('59', 'HAWKER STALL'),
      v('60', 'Singapore'),
    ],
    deviations: ['paynow:PAYLOAD_OVER_512:'],
  },
  {
    profile: 'qris',
    nodes: [
      v('00', '01'),
      v('01', '12'),
      t('26', ['00', 'ID.CO.TELKOM.WWW'], ['01', '936008980000000001'], ['02', '000195000001'], ['03', 'UMI']),
      t('51', ['00', 'ID.CO.QRIS.WWW'], ['02', 'ID1020000000001'], ['03', 'UMI']),
      v('52', '5411'),
      v('53', '360'),
      v('54', '25000'),
      v('55', '02'),
      v('56', '1000'),
      v('58', 'ID'),
      v('59', 'WARUNG BU SRI'),
      v('60', 'JAKARTA'),
      v('61', '10110'),
      t('62', ['07', 'A01']),
    ],
    deviations: [],
  },
  {
    profile: 'duitnow',
    nodes: [
      v('00', '02'),
      v('01', '11'),
      t('26', ['00', 'A0000006150001'], ['01', '890053'], ['02', '0312345678']),
      v('52', '5812'),
      v('53', '458'),
      v('58', 'MY'),
      v('59', 'KEDAI MAKAN'),
      v('60', 'KUALA LUMPUR'),
      t('62', ['01', 'INV1'], ['07', 'T1']),
      v('82', '0123456789ABCDEF'),
    ],
    deviations: ['duitnow:PFI_VALUE:00', 'duitnow:TEMPLATE_NOT_ILV:82'],
  },
  {
    profile: 'vietqr',
    nodes: [
      v('00', '01'),
      v('01', '12'),
      {
        id: '38',
        children: [
          { id: '00', value: 'A000000727' },
          {
            id: '01',
            children: [
              { id: '00', value: '970436' },
              { id: '01', value: '0011001234567' },
            ],
          },
          { id: '02', value: 'QRIBFTTA' },
        ],
      },
      v('53', '704'),
      v('54', '50000'),
      v('58', 'VN'),
      t('62', ['08', 'thanh toan hoa don']),
    ],
    deviations: [
      'vietqr:MISSING_MANDATORY:52',
      'vietqr:MISSING_MANDATORY:59',
      'vietqr:MISSING_MANDATORY:60',
      'vietqr:CRC_LOWERCASE:63',
    ],
    lowerCrc: true,
  },
  {
    profile: 'bharatqr',
    nodes: [
      v('00', '01'),
      v('01', '11'),
      v('02', '4403847800202706'),
      v('06', '6071234567890123'),
      v('08', 'HDFC000123450100012345678'),
      t('26', ['00', 'A000000524'], ['01', 'merchant@hdfcbank'], ['02', '1.00']),
      v('52', '5411'),
      v('53', '356'),
      v('58', 'IN'),
      v('59', 'KIRANA STORE'),
      v('60', 'MUMBAI'),
    ],
    deviations: ['bharatqr:RESERVED_ID:06', 'bharatqr:RESERVED_ID:08'],
  },
  {
    profile: 'fps',
    nodes: [
      v('00', '01'),
      v('01', '12'),
      t('26', ['00', 'hk.com.hkicl'], ['01', '004'], ['02', '1234567']),
      v('52', '0000'),
      v('53', '344'),
      v('54', '100.00'),
      v('58', 'HK'),
      v('59', 'NA'),
      v('60', 'HK'),
      t('62', ['05', 'REF123']),
    ],
    deviations: [],
  },
  {
    profile: 'vnpay',
    nodes: [
      v('00', '01'),
      v('01', '11'),
      t('26', ['00', 'A000000775'], ['01', 'mid0001']),
      v('52', '5812'),
      v('53', '704'),
      v('58', 'VN'),
      v('59', 'CUA HANG'),
      v('60', 'HA NOI'),
    ],
    deviations: [],
  },
];

function withLowerCrc(payload: string): string {
  return payload.slice(0, -4) + payload.slice(-4).toLowerCase();
}

describe('EMV MPM national profiles', () => {
  it('has a composed code for every profile', () => {
    const covered = new Set(CASES.map((c) => c.profile).concat(['handset']));
    for (const p of PROFILES) expect(covered.has(p.id) || p.id === 'sgqr', p.id).toBe(true);
  });

  for (const c of CASES) {
    it(`reads a ${c.profile} code, reporting its by-design deviations as profile-deviation`, () => {
      let payload = encodeMpm(c.nodes);
      if (c.lowerCrc) {
        expect(/[A-F]/.test(payload.slice(-4)), 'test payload CRC should contain a letter').toBe(true);
        payload = withLowerCrc(payload);
      }
      const r = parseMpm(payload);
      expect(errors(r), JSON.stringify(errors(r))).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.profiles).toContain(c.profile);
      expect(deviations(r).sort()).toEqual([...c.deviations].sort());
      expect(encodeMpm(r.objects)).toBe(payload.slice(0, -4) + payload.slice(-4).toUpperCase());
    });
  }

  it('still refuses deviations outside the profile, and profile field errors', () => {
    // PromptPay tolerates missing 59 but not a bad CRC or a malformed mobile number.
    const nodes = CASES.find((c) => c.profile === 'promptpay')!.nodes;
    const bad = encodeMpm(nodes.map((n) => (n.id === '29' ? t('29', ['00', 'A000000677010111'], ['01', '081234567']) : n)));
    const r = parseMpm(bad);
    expect(r.ok).toBe(false);
    expect(errors(r).map((p) => p.code)).toEqual(['PROFILE_FIELD_FORMAT']);
    expect(errors(r)[0]!.idPath).toEqual(['29', '01']);
    // The same missing 59 without a PromptPay template is an error.
    const plain = encodeMpm(nodes.map((n) => (n.id === '29' ? t('29', ['00', 'com.other']) : n)));
    expect(errors(parseMpm(plain)).map((p) => p.code)).toContain('MISSING_MANDATORY');
    // PromptPay: an amount with 01 = "11" is a should-level profile rule.
    const withAmount = encodeMpm([...nodes, v('54', '10.00')]);
    expect(parseMpm(withAmount).problems.find((p) => p.code === 'PROFILE_DYNAMIC_AMOUNT')?.severity).toBe('should');
    // Pix needs a key (01) or a URL (25).
    const pixNoKey = encodeMpm(
      CASES[0]!.nodes.map((n) => (n.id === '26' ? t('26', ['00', 'br.gov.bcb.pix'], ['02', 'hello']) : n)),
    );
    expect(errors(parseMpm(pixNoKey)).map((p) => p.code)).toContain('PROFILE_FIELD_MISSING');
    // Pix expects a txid in 62-05 ("***" when none): a should-level finding.
    const pixNoTxid = parseMpm(encodeMpm(CASES[0]!.nodes.filter((n) => n.id !== '62')));
    expect(pixNoTxid.ok).toBe(true);
    expect(pixNoTxid.problems.find((p) => p.code === 'PROFILE_FIELD_MISSING')).toMatchObject({
      severity: 'should',
      idPath: ['62', '05'],
    });
    // FPS with a wrong currency is flagged.
    const fpsUsd = encodeMpm(CASES.find((c) => c.profile === 'fps')!.nodes.map((n) => (n.id === '53' ? v('53', '840') : n)));
    expect(parseMpm(fpsUsd).problems.find((p) => p.code === 'PROFILE_CURRENCY')?.severity).toBe('should');
    // VietQR nested template 38-01 needs the bank BIN.
    const viet = CASES.find((c) => c.profile === 'vietqr')!.nodes.map((n) =>
      n.id === '38'
        ? {
            id: '38',
            children: [
              { id: '00', value: 'A000000727' },
              { id: '01', children: [{ id: '01', value: '0011' }] },
            ],
          }
        : n,
    );
    expect(errors(parseMpm(encodeMpm(viet))).map((p) => p.code)).toContain('PROFILE_FIELD_MISSING');
  });

  it('builds a valid code for every profile', () => {
    const accounts: Record<string, string | Record<string, string>> = {
      pix: 'fulano@example.com',
      promptpay: '0066812345678',
      paynow: { '01': '2', '02': '201403121W' },
      sgqr: { '01': '180000000001', '02': '01.0001' },
      qris: { '02': 'ID1020000000001', '03': 'UMI' },
      duitnow: { '01': '890053', '02': '0312345678' },
      vietqr: {},
      vnpay: { '01': 'mid0001' },
      bharatqr: 'merchant@hdfcbank',
      fps: '1234567',
      handset: 'm-cafe',
    };
    for (const p of PROFILES) {
      if (p.id === 'vietqr') continue; // nested 38-01 template: built with `extra`, below
      const payload = buildMpm({
        merchantName: 'SHOP',
        merchantCity: 'CITY',
        mcc: '5812',
        currency: p.currencies?.[0] ?? '840',
        amount: '10',
        profile: p.id,
        account: accounts[p.id],
      });
      const r = parseMpm(payload);
      expect(r.ok, `${p.id}: ${JSON.stringify(r.problems)}`).toBe(true);
      expect(r.profiles, p.id).toContain(p.id);
      expect(r.data.countryCode, p.id).toBe(p.country ?? 'US');
    }
    const viet = buildMpm({
      merchantName: 'SHOP',
      merchantCity: 'HA NOI',
      mcc: '5812',
      currency: 'VND',
      amount: '50000',
      extra: [
        {
          id: '38',
          children: [
            { id: '00', value: 'A000000727' },
            {
              id: '01',
              children: [
                { id: '00', value: '970436' },
                { id: '01', value: '0011001234567' },
              ],
            },
            { id: '02', value: 'QRIBFTTA' },
          ],
        },
      ],
    });
    expect(parseMpm(viet).profiles).toEqual(['vietqr']);
  });
});
