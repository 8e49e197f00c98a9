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
 *   handset paycode make --seed B64URL --index NNNNNNNNNN [--at MS] [--step N]
 *                                 JSON {code, step, validFromMs, validUntilMs} (what the handset shows)
 *   handset paycode check CODE [--seed B64URL --at MS --last-used-step N]
 *                                 JSON: structure (version, index, check digit) and, with --seed, the
 *                                 cloud's verdict; exit 1 when malformed or not live
 */
import { ValidationError } from '@handset/device-drivers/core';
import { type Command, Option } from 'commander';
import {
  buildMpm,
  CPM_PREFIX,
  EmvError,
  fromBase64Url,
  generatePaycode,
  type MpmBuildSpec,
  type MpmObject,
  mpmObjectName,
  nodeCrypto,
  PaycodeError,
  PROFILES,
  type ProfileId,
  parseCpm,
  parseMpm,
  parsePaycode,
  type TlvNode,
  toHex,
  verifyPaycode,
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

function seedArg(text: string): Uint8Array {
  const seed = fromBase64Url(text);
  if (!(seed instanceof Uint8Array) || seed.length < 16)
    throw new ValidationError('--seed must be base64url of at least 16 bytes', { code: 'BAD_ARGUMENT' });
  return seed;
}

function intArg(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^-?[0-9]{1,16}$/.test(text)) throw new ValidationError(`${flag} must be an integer`, { code: 'BAD_ARGUMENT' });
  return Number(text);
}

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
      else if (o.account !== undefined)
        throw new ValidationError(`profile ${profile!.id} has no single account field; give --account-field ID=VALUE`, {
          code: 'BAD_ARGUMENT',
        });
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

  const paycode = program
    .command('paycode')
    .description('one-time pay codes (show to pay): make one as the handset would, check one as the cloud would');
  paycode
    .command('make')
    .description('make the pay code a handset with this seed and index shows')
    .requiredOption('--seed <b64url>', 'pay-code seed from the registration response')
    .requiredOption('--index <digits>', '10-digit routing index from the registration response')
    .option('--at <ms>', 'time in ms since the epoch (default now)')
    .option('--step <n>', 'force a time step (e.g. last used + 1)')
    .action((o: { seed: string; index: string; at?: string; step?: string }) => {
      const nowMs = intArg(o.at, '--at', Date.now());
      const step = o.step === undefined ? undefined : intArg(o.step, '--step', 0);
      io.out(json(generatePaycode(nodeCrypto, { seed: seedArg(o.seed), index: o.index, nowMs, step })));
    });
  paycode
    .command('check')
    .description('check a pay code: structure and check digit; with --seed, whether it is live')
    .argument('<code>', 'the 20 digits')
    .option('--seed <b64url>', "the index's seed (cloud side)")
    .option('--at <ms>', 'time in ms since the epoch (default now)')
    .option('--last-used-step <n>', 'last consumed step of this index (single use)')
    .action((code: string, o: { seed?: string; at?: string; lastUsedStep?: string }) => {
      let parsed: ReturnType<typeof parsePaycode>;
      try {
        parsed = parsePaycode(code);
      } catch (e) {
        if (e instanceof PaycodeError) io.out(json({ ok: false, code: e.code, message: e.message, position: e.position }));
        throw e;
      }
      if (!o.seed) {
        io.out(json({ ok: true, ...parsed }));
        return;
      }
      const verdict = verifyPaycode(nodeCrypto, parsed, {
        seed: seedArg(o.seed),
        nowMs: intArg(o.at, '--at', Date.now()),
        lastUsedStep: o.lastUsedStep === undefined ? undefined : intArg(o.lastUsedStep, '--last-used-step', -1),
      });
      io.out(json({ ...parsed, ...verdict }));
      if (!verdict.ok) throw new PaycodeError(verdict.reason.toUpperCase(), `pay code is not live (${verdict.reason})`);
    });
}
