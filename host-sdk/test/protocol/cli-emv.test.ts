import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { parseMpm } from '../../src/protocol/index';
import { SPEC_B7 } from './fixtures';

const run = async (...args: string[]) => {
  const io = recordingIo();
  const code = await main(args, io);
  return { code, out: io.stdout, err: io.stderr };
};

describe('handset emv', () => {
  it('parse prints fields, crcValid and problems as JSON (exit 0 for a valid code)', async () => {
    const r = await run('emv', 'parse', SPEC_B7);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: 'mpm', ok: true, crcValid: true, crc: { given: 'A13A', computed: 'A13A' }, problems: [] });
    expect(j.fields.find((f: { id: string }) => f.id === '64')).toMatchObject({
      name: 'Merchant Information - Language Template',
      length: 20,
    });
    expect(j.fields.find((f: { id: string }) => f.id === '62').children.map((c: { name: string }) => c.name)).toContain(
      'Store Label',
    );
    expect(j.data.amount).toEqual({ text: '23.72', minor: '2372' });
  });

  it('parse exits 1 on a bad CRC, with the problem, severity and position', async () => {
    const r = await run('emv', 'parse', `${SPEC_B7.slice(0, -4)}A13B`);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.crcValid).toBe(false);
    expect(j.problems[0]).toMatchObject({ severity: 'error', code: 'CRC_MISMATCH', offset: 244, idPath: ['63'] });
    expect(r.err).toMatch(/^handset: MPM_CRC_INVALID: CRC_MISMATCH at 244/);
    const structural = await run('emv', 'parse', '00020101021226XX');
    expect(structural.code).toBe(1);
  });

  it('parse reads CPM payloads and reports malformed ones', async () => {
    const ok = await run('emv', 'parse', 'hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).applications[0].aid).toBe('A0000000555555');
    const bad = await run('emv', 'parse', 'hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out).problems[0].code).toBe('CPM_BAD_BASE64');
  });

  it('make builds a payload that parses cleanly', async () => {
    const r = await run(
      'emv',
      'make',
      '--merchant-name',
      'BEST TRANSPORT',
      '--city',
      'BEIJING',
      '--mcc',
      '4111',
      '--currency',
      'CNY',
      '--amount',
      '23.72',
      '--merchant-id',
      'm-best',
      '--reference',
      'ORD-7',
      '--tip',
      '--language',
      'ZH',
      '--alt-name',
      '最佳运输',
      '--alt-city',
      '北京',
    );
    expect(r.code).toBe(0);
    const payload = r.out.trim();
    const p = parseMpm(payload);
    expect(p.ok).toBe(true);
    expect(p.data).toMatchObject({
      countryCode: 'CN',
      amount: { minor: 2372n },
      handset: { merchantId: 'm-best', orderRef: 'ORD-7' },
      tip: { indicator: '01' },
    });
    const pix = await run(
      'emv',
      'make',
      '--merchant-name',
      'FULANO',
      '--city',
      'SAO PAULO',
      '--mcc',
      '0000',
      '--currency',
      'BRL',
      '--profile',
      'pix',
      '--account',
      'fulano@example.com',
    );
    expect(parseMpm(pix.out.trim()).profiles).toEqual(['pix']);
    const paynow = await run(
      'emv',
      'make',
      '--merchant-name',
      'SHOP',
      '--city',
      'SG',
      '--mcc',
      '5812',
      '--currency',
      'SGD',
      '--profile',
      'paynow',
      '--account-field',
      '01=2',
      '--account',
      '201403121W',
      '--amount',
      '5',
    );
    expect(parseMpm(paynow.out.trim()).ok).toBe(true);
  });

  it('make refuses bad arguments with a typed error (exit 1) or usage error (exit 2)', async () => {
    const base = [
      'emv',
      'make',
      '--merchant-name',
      'CAFE',
      '--city',
      'X',
      '--mcc',
      '5812',
      '--currency',
      'USD',
      '--merchant-id',
      'm-1',
    ];
    expect((await run(...base, '--amount', '1.234')).err).toMatch(/^handset: AMOUNT_TOO_MANY_DECIMALS: /);
    expect((await run(...base, '--amount', '-5')).code).toBe(1);
    expect((await run(...base, '--amount', '1e3')).code).toBe(1);
    expect((await run(...base, '--tip', '--fee-fixed', '1')).err).toMatch(/BAD_ARGUMENT/);
    expect((await run(...base, '--additional', 'x=1')).err).toMatch(/BAD_ARGUMENT/);
    expect((await run(...base, '--profile', 'nope')).code).toBe(2);
    expect((await run(...base, '--profile', 'vietqr', '--account', '123')).err).toMatch(
      /BAD_ARGUMENT: profile vietqr has no single account field/,
    );
    expect((await run(...base, '--account', '123')).err).toMatch(/--account needs --profile/);
    expect((await run('emv', 'make', '--city', 'X')).code).toBe(2);
    expect((await run(...base.slice(0, -2), '--currency', 'XXX')).err).toMatch(/CURRENCY_UNKNOWN/);
  });

  it('runs end to end as a process (exit codes and stdout)', async () => {
    const repo = fileURLToPath(new URL('../../..', import.meta.url));
    const script =
      'const { main } = await import("./host-sdk/src/cli/program.ts"); process.exitCode = await main(process.argv.slice(1));';
    const exec = promisify(execFile);
    const good = await exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'emv', 'parse', SPEC_B7], {
      cwd: repo,
    });
    expect(JSON.parse(good.stdout).crcValid).toBe(true);
    const bad = await exec(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, 'emv', 'parse', `${SPEC_B7.slice(0, -1)}B`],
      { cwd: repo },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(/MPM_CRC_INVALID/);
  });
});

describe('handset paycode', () => {
  const seed = Buffer.alloc(32, 7).toString('base64url');
  it('make then check: live within the window, used after consumption, refused when malformed', async () => {
    const made = await run('paycode', 'make', '--seed', seed, '--index', '0000000042', '--at', '1700000000000');
    expect(made.code).toBe(0);
    const p = JSON.parse(made.out);
    expect(p.code).toBe('90000000042947468077');
    const live = await run('paycode', 'check', p.code, '--seed', seed, '--at', '1700000030000');
    expect(live.code).toBe(0);
    expect(JSON.parse(live.out)).toMatchObject({ ok: true, index: '0000000042', step: p.step });
    const used = await run(
      'paycode',
      'check',
      p.code,
      '--seed',
      seed,
      '--at',
      '1700000030000',
      '--last-used-step',
      String(p.step),
    );
    expect(used.code).toBe(1);
    expect(used.err).toMatch(/PAYCODE_USED/);
    const late = await run('paycode', 'check', p.code, '--seed', seed, '--at', '1700000060000');
    expect(late.code).toBe(1);
    const typo = await run('paycode', 'check', '90000000042947468078');
    expect(typo.code).toBe(1);
    expect(JSON.parse(typo.out)).toMatchObject({ ok: false, code: 'PAYCODE_CHECK_DIGIT', position: 19 });
    expect((await run('paycode', 'check', p.code)).code).toBe(0);
    expect((await run('paycode', 'make', '--seed', 'short', '--index', '0000000042')).err).toMatch(/BAD_ARGUMENT/);
    expect((await run('paycode', 'make', '--seed', seed, '--index', '42')).err).toMatch(/PAYCODE_BAD_INDEX/);
  });
});
