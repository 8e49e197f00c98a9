import { EmvError, MoneyError } from '../errors';
import { type Currency, checkMinorUnits, findCurrency, formatMinorUnits, parseDecimalAmount } from '../money';
import { encodeMpm, type MpmNode, parseMpm } from './mpm';
import type { MpmProblem } from './problems';
import { HANDSET_GUI, type ProfileId, profileById } from './profiles';

/** What a merchant terminal (or `handset emv make`) wants in its code. */
export interface MpmBuildSpec {
  merchantName: string;
  merchantCity: string;
  /** ISO 18245 MCC, 4 digits. */
  mcc: string;
  /** ISO 4217 alpha ("USD") or numeric ("840"). */
  currency: string;
  /** Minor units (bigint) or a decimal string in major units ("98.73"). Absent: the app asks. */
  amount?: bigint | string;
  /**
   * ISO 3166-1 alpha-2; default: the profile's country, else the first two letters of a
   * national currency's alpha code (SGD -> SG). Required for EUR and the X.. currencies,
   * which belong to no single country.
   */
  country?: string;
  postalCode?: string;
  /** Default: dynamic when an amount or a reference is given, else static. */
  initiation?: 'static' | 'dynamic';
  /** National profile whose account template to write (`account` fills its fields). */
  profile?: ProfileId;
  /** Sub-ID -> value of the profile's account template; a plain string fills its primary sub-ID. */
  account?: string | Readonly<Record<string, string>>;
  /** Our own template (GUI io.handset.pay): merchant id, order reference (also written to 62-05). */
  merchantId?: string;
  reference?: string;
  tip?: { kind: 'prompt' } | { kind: 'fixed'; amount: bigint | string } | { kind: 'percentage'; value: string };
  /** 62 sub-IDs -> values (e.g. {'07': 'T1'}); 05 is set from `reference` unless given. */
  additional?: Readonly<Record<string, string>>;
  language?: { preference: string; merchantName: string; merchantCity?: string };
  /** More objects to include as given (e.g. extra MAI templates). */
  extra?: readonly MpmNode[];
}

/** The first problem that made a built payload invalid. */
export class MpmBuildError extends EmvError {
  readonly problems: readonly MpmProblem[];
  constructor(problems: readonly MpmProblem[]) {
    const first = problems[0]!;
    super('MPM_BUILD_INVALID', `built payload is invalid: ${first.code}: ${first.message}`, first.offset, first.idPath);
    this.problems = problems;
  }
}

function amountText(value: bigint | string, cur: Currency, field: string): string {
  try {
    const minor = typeof value === 'bigint' ? checkMinorUnits(value, field) : parseDecimalAmount(value, cur, field);
    if (minor === 0n) throw new MoneyError('AMOUNT_ZERO', `${field} must not be zero`);
    return formatMinorUnits(minor, cur);
  } catch (e) {
    if (e instanceof MoneyError) throw new EmvError(e.code, e.message, 0, [field === 'amount' ? '54' : '56'], { cause: e });
    throw e;
  }
}

/**
 * Builds a valid MPM payload (objects in the usual order, CRC last, upper case). Refuses
 * (MpmBuildError / EmvError) anything that would not parse without errors.
 */
export function buildMpm(spec: MpmBuildSpec): string {
  const cur = findCurrency(spec.currency);
  if (!cur) throw new EmvError('CURRENCY_UNKNOWN', `unknown currency ${JSON.stringify(spec.currency)}`, 0, ['53']);
  const profile = spec.profile ? profileById(spec.profile) : undefined;
  if (spec.profile && !profile) throw new EmvError('PROFILE_UNKNOWN', `unknown profile ${JSON.stringify(spec.profile)}`, 0, []);
  const national = cur.alpha !== 'EUR' && !cur.alpha.startsWith('X');
  const country = spec.country ?? profile?.country ?? (national ? cur.alpha.slice(0, 2) : undefined);
  if (!country)
    throw new EmvError('COUNTRY_REQUIRED', `${cur.alpha} is used in several countries: give the merchant's country (58)`, 0, [
      '58',
    ]);
  const nodes: MpmNode[] = [{ id: '00', value: '01' }];
  const dynamic = spec.initiation ? spec.initiation === 'dynamic' : spec.amount !== undefined || spec.reference !== undefined;
  nodes.push({ id: '01', value: dynamic ? '12' : '11' });

  let nextId = 26;
  const takeId = (preferred?: string) => {
    const used = new Set(nodes.map((n) => n.id).concat((spec.extra ?? []).map((n) => n.id)));
    if (preferred && !used.has(preferred)) return preferred;
    while (used.has(String(nextId))) nextId++;
    if (nextId > 51) throw new EmvError('MPM_NO_ACCOUNT_ID', 'no free Merchant Account Information ID in 26-51', 0, []);
    return String(nextId);
  };
  if (profile && profile.id !== 'handset') {
    const acc = profile.accounts[0]!;
    const values: Record<string, string> =
      typeof spec.account === 'string' ? (acc.primary ? { [acc.primary]: spec.account } : {}) : { ...(spec.account ?? {}) };
    if (typeof spec.account === 'string' && !acc.primary)
      throw new EmvError('PROFILE_NO_PRIMARY', `profile ${profile.id} needs account sub-fields (SUBID=VALUE)`, 0, []);
    const children: MpmNode[] = [{ id: '00', value: acc.guis[0]! }];
    for (const id of Object.keys(values).sort()) children.push({ id, value: values[id]! });
    nodes.push({ id: takeId(acc.ids[0]), children });
  }
  if (spec.merchantId !== undefined || profile?.id === 'handset') {
    const merchantId = spec.merchantId ?? (typeof spec.account === 'string' ? spec.account : spec.account?.['01']);
    if (!merchantId) throw new EmvError('MPM_MERCHANT_ID', 'the handset template needs a merchant id', 0, ['26', '01']);
    const children: MpmNode[] = [
      { id: '00', value: HANDSET_GUI },
      { id: '01', value: merchantId },
    ];
    if (spec.reference !== undefined) children.push({ id: '02', value: spec.reference });
    nodes.push({ id: takeId('26'), children });
  }
  for (const e of spec.extra ?? []) nodes.push(e);
  nodes.push({ id: '52', value: spec.mcc });
  nodes.push({ id: '53', value: cur.numeric });
  if (spec.amount !== undefined) nodes.push({ id: '54', value: amountText(spec.amount, cur, 'amount') });
  if (spec.tip) {
    if (spec.tip.kind === 'prompt') nodes.push({ id: '55', value: '01' });
    else if (spec.tip.kind === 'fixed')
      nodes.push({ id: '55', value: '02' }, { id: '56', value: amountText(spec.tip.amount, cur, 'fee') });
    else nodes.push({ id: '55', value: '03' }, { id: '57', value: spec.tip.value });
  }
  nodes.push({ id: '58', value: country });
  nodes.push({ id: '59', value: spec.merchantName });
  nodes.push({ id: '60', value: spec.merchantCity });
  if (spec.postalCode !== undefined) nodes.push({ id: '61', value: spec.postalCode });
  const additional: Record<string, string> = { ...(spec.additional ?? {}) };
  if (spec.reference !== undefined && additional['05'] === undefined) additional['05'] = spec.reference;
  const addIds = Object.keys(additional).sort();
  if (addIds.length > 0) nodes.push({ id: '62', children: addIds.map((id) => ({ id, value: additional[id]! })) });
  if (spec.language) {
    const l: MpmNode[] = [
      { id: '00', value: spec.language.preference },
      { id: '01', value: spec.language.merchantName },
    ];
    if (spec.language.merchantCity) l.push({ id: '02', value: spec.language.merchantCity });
    nodes.push({ id: '64', children: l });
  }
  const payload = encodeMpm(nodes);
  const parsed = parseMpm(payload);
  const errors = parsed.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new MpmBuildError(errors);
  return payload;
}
