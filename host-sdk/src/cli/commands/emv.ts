/**
 * `handset emv ...`: EMV QR payloads (the wire contract's codec, host-sdk/src/protocol/emv).
 *
 *   handset emv parse PAYLOAD     JSON: fields, crcValid, problems (severity + position), data;
 *                                 exit 1 when the CRC is invalid or a problem is an error.
 *                                 A payload starting "hQVDUFY" is read as CPM (BER-TLV in base64).
 *   handset emv make --merchant-name N --city C --mcc NNNN --currency CUR [--amount A]
 *                    [--country CC] [--profile pix|promptpay|...] [--account V] [--account-field ID=V]...
 *                    [--merchant-id m-... --reference REF] [--tip prompt | --fee-fixed A | --fee-percent P]
 *                    [--additional ID=V]... [--language XX --alt-name N [--alt-city C]] [--static | --dynamic]
 *                                 prints the MPM payload
 */
import { ValidationError } from '@handset/device-drivers/core';
import { type Command, Option } from 'commander';
import {
  buildMpm,
  CPM_PREFIX,
  EmvError,
  type MpmBuildSpec,
  type MpmObject,
  mpmObjectName,
  PROFILES,
  type ProfileId,
  parseCpm,
  parseMpm,
  type TlvNode,
  toHex,
} from '../../protocol/index';
import type { CliIo } from '../io';

const json = (v: unknown) =>
  `${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? toHex(x).toUpperCase() : x), 2)}\n`;

function fieldJson(o: MpmObject, path: string[]): unknown {
  const p = [...path, o.id];
  return {
    id: o.id,
    name: mpmObjectName(p),
    length: o.length,
    offset: o.offset,
    value: o.value,
    ...(o.children ? { children: o.children.map((c) => fieldJson(c, p)) } : {}),
  };
}

function tlvJson(n: TlvNode): unknown {
  return {
    tag: n.tag,
    offset: n.offset,
    length: n.value.length,
    value: n.value,
    ...(n.children ? { children: n.children.map(tlvJson) } : {}),
  };
}

function pairs(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const m = /^([0-9]{2})=(.+)$/s.exec(item);
    if (!m)
      throw new ValidationError(`${flag} ${JSON.stringify(item)}: expected ID=VALUE with a two-digit ID`, {
        code: 'BAD_ARGUMENT',
      });
    out[m[1]!] = m[2]!;
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface MakeOptions {
  merchantName: string;
  city: string;
  mcc: string;
  currency: string;
  amount?: string;
  country?: string;
  postalCode?: string;
  profile?: ProfileId;
  account?: string;
  accountField?: string[];
  merchantId?: string;
  reference?: string;
  tip?: boolean;
  feeFixed?: string;
  feePercent?: string;
  additional?: string[];
  language?: string;
  altName?: string;
  altCity?: string;
  static?: boolean;
  dynamic?: boolean;
}

export function register(program: Command, io: CliIo): void {
  const emv = program
    .command('emv')
    .description('EMV QR payloads: parse/validate merchant (MPM) and consumer (CPM) codes, build MPM codes');

  emv
    .command('parse')
    .description('parse and validate a payload; JSON with fields, crcValid and problems (exit 1 if refused)')
    .argument('<payload>', 'the QR payload text')
    .action((payload: string) => {
      if (payload.startsWith(CPM_PREFIX)) {
        let cpm: ReturnType<typeof parseCpm>;
        try {
          cpm = parseCpm(payload);
        } catch (e) {
          if (e instanceof EmvError) {
            io.out(
              json({
                kind: 'cpm',
                ok: false,
                problems: [{ severity: 'error', code: e.code, message: e.message, offset: e.offset, idPath: e.idPath }],
              }),
            );
          }
          throw e;
        }
        const apps = cpm.applications.map(({ objects, ...rest }) => ({ ...rest, objects: objects.map(tlvJson) }));
        io.out(
          json({
            kind: 'cpm',
            ok: true,
            formatIndicator: cpm.formatIndicator,
            applications: apps,
            others: cpm.others.map(tlvJson),
            problems: [],
          }),
        );
        return;
      }
      const r = parseMpm(payload);
      io.out(
        json({
          kind: 'mpm',
          ok: r.ok,
          crcValid: r.crcValid,
          crc: r.crc,
          profiles: r.profiles,
          needsUtf8Eci: r.needsUtf8Eci,
          problems: r.problems,
          fields: r.objects.map((o) => fieldJson(o, [])),
          data: r.data,
        }),
      );
      if (!r.ok) {
        const first = r.problems.find((p) => p.severity === 'error');
        throw new EmvError(
          r.crcValid ? 'MPM_INVALID' : 'MPM_CRC_INVALID',
          first
            ? `${first.code} at ${first.offset}${first.idPath.length ? ` (${first.idPath.join('.')})` : ''}: ${first.message}`
            : 'payload refused',
          first?.offset ?? 0,
          first?.idPath ?? [],
        );
      }
    });

  emv
    .command('make')
    .description('build an MPM (merchant-presented) payload and print it')
    .requiredOption('--merchant-name <name>', 'merchant name (59, ans, <= 25)')
    .requiredOption('--city <city>', 'merchant city (60, ans, <= 15)')
    .requiredOption('--mcc <mcc>', 'merchant category code (52, 4 digits)')
    .requiredOption('--currency <code>', 'ISO 4217 alpha or numeric (53)')
    .option('--amount <amount>', 'amount in major units, e.g. 98.73 (54); omit to let the payer enter it')
    .option('--country <cc>', 'ISO 3166-1 alpha-2 (58); default from the profile or the currency')
    .option('--postal-code <code>', 'postal code (61)')
    .addOption(new Option('--profile <profile>', 'national profile for the account template').choices(PROFILES.map((p) => p.id)))
    .option('--account <value>', "value of the profile's primary account field (Pix key, PromptPay mobile, ...)")
    .option('--account-field <ID=VALUE>', 'extra account template sub-field (repeatable)', collect)
    .option('--merchant-id <id>', 'our merchant id (m-...): adds the io.handset.pay template')
    .option('--reference <ref>', 'order reference (26-02 of our template and 62-05); makes the code dynamic')
    .option('--tip', 'ask the payer for a tip (55 = 01)')
    .option('--fee-fixed <amount>', 'fixed convenience fee (55 = 02, 56)')
    .option('--fee-percent <pct>', 'percentage convenience fee (55 = 03, 57), e.g. 3.00')
    .option('--additional <ID=VALUE>', 'additional data sub-field in 62 (repeatable)', collect)
    .option('--language <xx>', 'language template 64: ISO 639-1 code')
    .option('--alt-name <name>', 'merchant name in that language (64-01)')
    .option('--alt-city <city>', 'merchant city in that language (64-02)')
    .option('--static', 'point of initiation 11 (static)')
    .option('--dynamic', 'point of initiation 12 (dynamic)')
    .action((o: MakeOptions) => {
      const tips = [o.tip, o.feeFixed, o.feePercent].filter((x) => x !== undefined).length;
      if (tips > 1) throw new ValidationError('choose one of --tip, --fee-fixed, --fee-percent', { code: 'BAD_ARGUMENT' });
      if (o.static && o.dynamic) throw new ValidationError('choose one of --static, --dynamic', { code: 'BAD_ARGUMENT' });
      if (o.language && !o.altName) throw new ValidationError('--language needs --alt-name', { code: 'BAD_ARGUMENT' });
      const fields = pairs(o.accountField, '--account-field');
      const profile = o.profile ? PROFILES.find((p) => p.id === o.profile) : undefined;
      if (o.account !== undefined && profile?.accounts[0]?.primary) fields[profile.accounts[0].primary] = o.account;
      else if (o.account !== undefined && !profile)
        throw new ValidationError('--account needs --profile', { code: 'BAD_ARGUMENT' });
      const spec: MpmBuildSpec = {
        merchantName: o.merchantName,
        merchantCity: o.city,
        mcc: o.mcc,
        currency: o.currency,
        amount: o.amount,
        country: o.country,
        postalCode: o.postalCode,
        profile: o.profile,
        account: profile?.id === 'handset' && o.account ? o.account : fields,
        merchantId: o.merchantId,
        reference: o.reference,
        initiation: o.static ? 'static' : o.dynamic ? 'dynamic' : undefined,
        tip: o.tip
          ? { kind: 'prompt' }
          : o.feeFixed !== undefined
            ? { kind: 'fixed', amount: o.feeFixed }
            : o.feePercent !== undefined
              ? { kind: 'percentage', value: o.feePercent }
              : undefined,
        additional: pairs(o.additional, '--additional'),
        language: o.language ? { preference: o.language, merchantName: o.altName!, merchantCity: o.altCity } : undefined,
      };
      io.out(`${buildMpm(spec)}\n`);
    });
}
