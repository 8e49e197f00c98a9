import { describe, expect, it } from 'vitest';
import {
  decodeAnyMessage,
  decodeMessage,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  MESSAGE_KINDS,
  MessageError,
  type MessageKind,
  newPaymentId,
  nodeCrypto,
  PAYMENT_ID_RE,
} from '../../src/protocol/index';
import { signedAuth, signedRegistration, wire } from './fixtures';

const fail = (kind: MessageKind, value: unknown): MessageError => {
  try {
    decodeMessage(kind, typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value));
  } catch (e) {
    expect(e).toBeInstanceOf(MessageError);
    return e as MessageError;
  }
  throw new Error('accepted a bad message');
};

const result = {
  v: 1,
  type: 'result',
  paymentId: '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6e',
  flow: 'scan',
  deviceId: 'hs-0001',
  merchantId: 'm-cafe',
  orderRef: 'ORD-42',
  status: 'approved',
  currency: 'USD',
  authorisedAmount: '9873',
  bookedAmount: '9873',
  ledgerTransferId: 't-1',
  receivedAt: 1_700_000_000_100,
  decidedAt: 1_700_000_000_120,
};

describe('messages', () => {
  it('round-trips every kind through bytes with bigint amounts', () => {
    const auth = signedAuth();
    const back = decodeMessage('authorisation', encodeMessage('authorisation', auth));
    expect(back).toEqual(auth);
    expect(typeof back.amount).toBe('bigint');
    const reg = signedRegistration();
    expect(decodeMessage('registration.request', encodeMessage('registration.request', reg))).toEqual(reg);
    const r = decodeMessage('result', JSON.stringify(result));
    expect(r.bookedAmount).toBe(9873n);
    expect(decodeAnyMessage(JSON.stringify(result)).type).toBe('result');
    const order = {
      v: 1,
      type: 'merchant.order',
      merchantId: 'm-cafe',
      orderRef: 'ORD-42',
      amount: '9873',
      currency: 'USD',
      createdAt: 1,
      expiresAt: 2,
    };
    expect(decodeMessage('merchant.order', JSON.stringify(order)).amount).toBe(9873n);
    const charge = {
      v: 1,
      type: 'merchant.charge',
      paymentId: newPaymentId(nodeCrypto.randomBytes, 1_700_000_000_000),
      merchantId: 'm-cafe',
      orderRef: 'ORD-43',
      code: '90000000042947468077',
      amount: '250',
      currency: 'USD',
      ts: 1,
    };
    expect(decodeMessage('merchant.charge', JSON.stringify(charge)).code).toBe(charge.code);
    const resp = {
      v: 1,
      type: 'registration.response',
      requestId: '01890a5d-ac96-7a4b-8c3e-000000000001',
      deviceId: 'hs-0001',
      status: 'registered',
      account: 'alice',
      paycode: { index: '0000000042', seed: 'A'.repeat(43), stepSeconds: 15 },
      ts: 5,
    };
    expect(decodeMessage('registration.response', JSON.stringify(resp)).paycode?.index).toBe('0000000042');
    expect(MESSAGE_KINDS.length).toBe(6);
  });

  it('refuses hostile authorisations with the path of the bad field', () => {
    const good = wire(signedAuth());
    const cases: [string, Record<string, unknown>, string, string?][] = [
      ['float amount', { ...good, amount: 98.73 }, 'amount', 'AMOUNT_FLOAT'],
      ['integer number amount', { ...good, amount: 9873 }, 'amount', 'AMOUNT_FLOAT'],
      ['decimal string amount', { ...good, amount: '98.73' }, 'amount', 'AMOUNT_FLOAT'],
      ['negative amount', { ...good, amount: '-1' }, 'amount', 'AMOUNT_NEGATIVE'],
      ['overflow amount', { ...good, amount: '1000000000000' }, 'amount', 'AMOUNT_OVERFLOW'],
      ['zero amount', { ...good, amount: '0' }, 'amount', 'AMOUNT_ZERO'],
      ['extra field', { ...good, template: 'ffee' }, 'template', 'unrecognized_keys'],
      ['missing field', { ...good, counter: undefined }, 'counter'],
      ['bad currency', { ...good, currency: 'usd' }, 'currency'],
      ['bad method', { ...good, method: 'pin' }, 'method'],
      ['float counter', { ...good, counter: 1.5 }, 'counter'],
      ['zero counter', { ...good, counter: 0 }, 'counter'],
      ['bad payment id', { ...good, paymentId: 'not-a-uuid' }, 'paymentId'],
      ['wrong device id', { ...good, deviceId: 'hs-1/auth' }, 'deviceId'],
      ['short signature', { ...good, signature: 'AAAA' }, 'signature'],
      ['version 2', { ...good, v: 2 }, 'v'],
      ['wrong type', { ...good, type: 'result' }, 'type'],
      ['proto key', JSON.parse(JSON.stringify(good).replace('{', '{"__proto__":{"x":1},')), '__proto__'],
    ];
    for (const [name, value, path, reason] of cases) {
      const e = fail('authorisation', value);
      expect(e.path, name).toBe(path);
      expect(e.code, name).toMatch(/^MESSAGE_(INVALID|VERSION)$/);
      if (reason) expect(e.details?.reason, name).toBe(reason);
    }
  });

  it('refuses raw bytes that are too large, not UTF-8, not JSON or not objects', () => {
    expect(fail('authorisation', new Uint8Array(MAX_MESSAGE_BYTES + 1)).code).toBe('MESSAGE_TOO_LARGE');
    expect(fail('authorisation', 'x'.repeat(10_000)).code).toBe('MESSAGE_TOO_LARGE');
    const notUtf8 = Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    const e = fail('authorisation', notUtf8);
    expect(e.code).toBe('MESSAGE_NOT_UTF8');
    expect(e.details?.offset).toBe(2);
    expect(fail('authorisation', '{"v":1,').code).toBe('MESSAGE_NOT_JSON');
    expect(fail('authorisation', '[]').code).toBe('MESSAGE_INVALID');
    expect(fail('authorisation', 'null').code).toBe('MESSAGE_INVALID');
    expect(() => decodeAnyMessage('{"type":"nope"}')).toThrow(MessageError);
    const text = new TextDecoder().decode(encodeMessage('authorisation', signedAuth()));
    const dup = fail('authorisation', text.replace('"amount":"9873"', '"amount":"9873","amount":"1"'));
    expect(dup).toMatchObject({ code: 'MESSAGE_DUPLICATE_KEY', path: 'amount' });
    expect(fail('authorisation', text.replace('{', '{"a\\"b":1,"a\\"b":2,')).code).toBe('MESSAGE_DUPLICATE_KEY');
    const nested = { ...wire(signedRegistration()) };
    const nestedText = JSON.stringify(nested).replace('"slot":0,', '"slot":0,"slot":0,');
    expect(fail('registration.request', nestedText).code).toBe('MESSAGE_DUPLICATE_KEY');
    expect(decodeMessage('registration.request', JSON.stringify(nested)).slots).toHaveLength(2);
  });

  it('refuses registrations carrying a raw template or duplicate slots', () => {
    const good = wire(signedRegistration());
    expect(fail('registration.request', { ...good, template: 'EF01FFFF' }).path).toBe('template');
    const slots = good.slots as { slot: number; templateSha256: string }[];
    expect(fail('registration.request', { ...good, slots: [slots[0], { ...slots[0], slot: 0 }] }).path).toBe('slots.1.slot');
    expect(fail('registration.request', { ...good, slots: [{ slot: 0, templateSha256: 'ab'.repeat(256) }] }).path).toBe(
      'slots.0.templateSha256',
    );
    expect(fail('registration.request', { ...good, slots: [{ ...slots[0], template: 'x' }] }).path).toBe('slots.0.template');
    expect(fail('registration.request', { ...good, slots: [] }).path).toBe('slots');
  });

  it('enforces result consistency (approved books, declined does not)', () => {
    expect(fail('result', { ...result, reason: 'expired' }).path).toBe('reason');
    expect(fail('result', { ...result, ledgerTransferId: undefined }).path).toBe('ledgerTransferId');
    const declined = {
      ...result,
      status: 'declined',
      reason: 'insufficient_funds',
      bookedAmount: '0',
      ledgerTransferId: undefined,
    };
    expect(decodeMessage('result', JSON.stringify(declined)).reason).toBe('insufficient_funds');
    expect(fail('result', { ...declined, bookedAmount: '9873' }).path).toBe('bookedAmount');
    expect(fail('result', { ...declined, reason: undefined }).path).toBe('reason');
    expect(fail('result', { ...result, decidedAt: 1 }).path).toBe('decidedAt');
  });

  it('makes UUIDv7 payment ids', () => {
    const id = newPaymentId(nodeCrypto.randomBytes, 1_700_000_000_000);
    expect(id).toMatch(PAYMENT_ID_RE);
    expect(id[14]).toBe('7');
    expect(id.slice(0, 13).replace('-', '')).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
    expect(newPaymentId(nodeCrypto.randomBytes, 1)).not.toBe(newPaymentId(nodeCrypto.randomBytes, 1));
  });
});

describe('OTA messages share the decoders first checks', () => {
  const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const done = `{"v":1,"type":"ota.done","updateId":"${id}"}`;

  it('decodes a valid message; duplicate keys, bad UTF-8, non-JSON and oversize are typed errors', async () => {
    const { decodeOtaMessage, decodeAnyOtaMessage, OTA_MAX_MESSAGE_BYTES } = await import('../../src/protocol/index');
    expect(decodeOtaMessage('ota.done', done)).toEqual({ v: 1, type: 'ota.done', updateId: id });
    expect(decodeAnyOtaMessage(new TextEncoder().encode(done))).toMatchObject({ type: 'ota.done' });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => decodeOtaMessage('ota.done', `{"v":1,"type":"ota.done","updateId":"${id}","updateId":"x"}`))).toBe(
      'MESSAGE_DUPLICATE_KEY',
    );
    expect(code(() => decodeOtaMessage('ota.done', Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('MESSAGE_NOT_UTF8');
    expect(code(() => decodeOtaMessage('ota.done', '{"v":1,'))).toBe('MESSAGE_NOT_JSON');
    expect(code(() => decodeOtaMessage('ota.done', 'x'.repeat(OTA_MAX_MESSAGE_BYTES + 1)))).toBe('MESSAGE_TOO_LARGE');
    expect(code(() => decodeOtaMessage('ota.done', '{"v":1,"type":"ota.done","updateId":"nope"}'))).toBe('MESSAGE_INVALID');
    expect(code(() => decodeAnyOtaMessage('{"v":1,"type":"ota.nope"}'))).toBe('MESSAGE_KIND');
  });
});
