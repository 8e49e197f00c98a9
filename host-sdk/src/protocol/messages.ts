import { z } from 'zod';
import { fromUtf8 } from './encoding';
import { MessageError, MoneyError } from './errors';
import { isCurrencyAlpha, parseMinorUnits } from './money';
import { DEVICE_ID_RE, MERCHANT_ID_RE } from './topics';

/**
 * Wire messages (JSON over MQTT, UTF-8), one zod schema each. Every schema is strict:
 * unknown fields are rejected, so a v2 field cannot slip through a v1 reader and no raw
 * fingerprint template can ride along. Every message carries `v: 1` and a `type`, so v2
 * schemas can be added beside these and dispatched on `(type, v)`.
 *
 * Money is a decimal string of minor units on the wire ("9873") and a `bigint` after
 * decoding; JSON numbers are refused for amounts (MessageError reason AMOUNT_FLOAT).
 * Timestamps are integer milliseconds since the Unix epoch (UTC).
 *
 * Use `decodeMessage(kind, bytes)` at every boundary; it returns the typed, decoded
 * message or throws MessageError with the dotted path of the first bad field.
 */

/** Raw messages larger than this are refused before parsing (MessageError MESSAGE_TOO_LARGE). */
export const MAX_MESSAGE_BYTES = 4096;

export const PROTOCOL_VERSION = 1 as const;

/** Payment id = idempotency key: a lowercase RFC 9562 UUID (the handset makes UUIDv7, see newPaymentId). */
export const PAYMENT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Account id (ledger account of the handset holder). */
export const ACCOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Order reference: fits EMV MPM 62-05 (Reference Label, ans <= 25) and our MAI template. */
export const ORDER_REF_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,24}$/;
/** Pay-code index: 10 digits (see paycode.ts). */
export const PAYCODE_INDEX_RE = /^[0-9]{10}$/;

const B64URL_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const B64URL_64 = /^[A-Za-z0-9_-]{85}[AQgw]$/;

export const paymentIdSchema = z.string().regex(PAYMENT_ID_RE, 'payment id must be a lowercase UUID');
export const deviceIdSchema = z.string().regex(DEVICE_ID_RE, 'device id must match hs-[A-Za-z0-9_-]{1,61}');
export const merchantIdSchema = z.string().regex(MERCHANT_ID_RE, 'merchant id must match m-[A-Za-z0-9_-]{1,62}');
export const accountSchema = z.string().regex(ACCOUNT_RE, 'account must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}');
export const orderRefSchema = z.string().regex(ORDER_REF_RE, 'order reference must match [A-Za-z0-9][A-Za-z0-9_-]{0,24}');
export const currencySchema = z.string().refine(isCurrencyAlpha, 'currency must be a known ISO 4217 alpha code');
/** Integer ms since the epoch. */
export const timestampSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const publicKeySchema = z.string().regex(B64URL_32, 'public key must be 32 bytes, base64url without padding');
export const signatureSchema = z.string().regex(B64URL_64, 'signature must be 64 bytes, base64url without padding');
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'digest must be 64 lowercase hex digits (SHA-256)');
export const authMethodSchema = z.enum(['fingerprint', 'fingerprint+pin']);
export type AuthMethod = z.infer<typeof authMethodSchema>;

/** Minor units: a decimal string on the wire, bigint after decoding; `positive` refuses "0". */
export function minorUnitsSchema(options: { positive?: boolean } = {}) {
  return z.unknown().transform((value, ctx): bigint => {
    try {
      const minor = parseMinorUnits(value);
      if (options.positive && minor === 0n) {
        ctx.addIssue({ code: 'custom', message: 'amount must be greater than zero', params: { reason: 'AMOUNT_ZERO' } });
        return z.NEVER;
      }
      return minor;
    } catch (err) {
      const reason = err instanceof MoneyError ? err.code : 'AMOUNT_SYNTAX';
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err), params: { reason } });
      return z.NEVER;
    }
  });
}

const header = <T extends string>(type: T) => ({ v: z.literal(PROTOCOL_VERSION), type: z.literal(type) });

/** One enrolled finger: R307 slot id and the SHA-256 of its template (the raw template never leaves the handset). */
export const enrolledSlotSchema = z.strictObject({
  slot: z.number().int().min(0).max(999),
  templateSha256: sha256HexSchema,
});

/**
 * Handset -> cloud on `handset/v1/{deviceId}/register`. `signature` is the device key's
 * Ed25519 signature over `registrationSigningBytes()` (proof that the handset holds the key).
 */
export const registrationRequestSchema = z
  .strictObject({
    ...header('registration.request'),
    requestId: paymentIdSchema,
    deviceId: deviceIdSchema,
    account: accountSchema,
    publicKey: publicKeySchema,
    slots: z.array(enrolledSlotSchema).min(1).max(16),
    ts: timestampSchema,
    signature: signatureSchema,
  })
  .superRefine((m, ctx) => {
    const seen = new Set<number>();
    m.slots.forEach((s, i) => {
      if (seen.has(s.slot)) ctx.addIssue({ code: 'custom', message: `slot ${s.slot} listed twice`, path: ['slots', i, 'slot'] });
      seen.add(s.slot);
    });
  });

/** The pay-code seed issued at registration (the "QR code information" the cloud stores). */
export const paycodeGrantSchema = z.strictObject({
  /** Routing index carried in every pay code (10 digits). */
  index: z.string().regex(PAYCODE_INDEX_RE),
  /** 32-byte HMAC seed, base64url. Store encrypted at rest on both sides. */
  seed: publicKeySchema,
  stepSeconds: z.number().int().min(1).max(60),
});

/** Cloud -> handset on `handset/v1/{deviceId}/register/reply`. */
export const registrationResponseSchema = z
  .strictObject({
    ...header('registration.response'),
    requestId: paymentIdSchema,
    deviceId: deviceIdSchema,
    status: z.enum(['registered', 'rejected']),
    reason: z.enum(['bad_signature', 'device_exists', 'unknown_account', 'malformed', 'stale']).optional(),
    account: accountSchema.optional(),
    paycode: paycodeGrantSchema.optional(),
    ts: timestampSchema,
  })
  .superRefine((m, ctx) => {
    if (m.status === 'registered' && (!m.paycode || !m.account))
      ctx.addIssue({
        code: 'custom',
        message: 'registered needs account and paycode',
        path: m.paycode ? ['account'] : ['paycode'],
      });
    if (m.status === 'rejected' && !m.reason)
      ctx.addIssue({ code: 'custom', message: 'rejected needs a reason', path: ['reason'] });
    if (m.status === 'rejected' && m.paycode)
      ctx.addIssue({ code: 'custom', message: 'rejected must not carry a pay-code seed', path: ['paycode'] });
  });

/** Fields covered by the authorisation signature, in canonical order (signing.ts). */
export const authorisationFieldsShape = {
  paymentId: paymentIdSchema,
  deviceId: deviceIdSchema,
  account: accountSchema,
  merchantId: merchantIdSchema,
  orderRef: orderRefSchema,
  amount: minorUnitsSchema({ positive: true }),
  currency: currencySchema,
  method: authMethodSchema,
  /** Strictly increasing per device key; the cloud rejects a value not above the last one it accepted. */
  counter: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** When the holder confirmed (ms since epoch); the cloud rejects stale or future values. */
  ts: timestampSchema,
};

/**
 * Handset -> cloud on `handset/v1/{deviceId}/auth` (scan-to-pay). `paymentId` is the
 * idempotency key: the handset stores it in its outbox before the first send and resends
 * the same message on retry; the cloud answers a duplicate with the first outcome.
 */
export const authorisationSchema = z.strictObject({
  ...header('authorisation'),
  ...authorisationFieldsShape,
  signature: signatureSchema,
});

export const declineReasonSchema = z.enum([
  'bad_signature',
  'stale_counter',
  'expired',
  'future_timestamp',
  'unknown_device',
  'unknown_account',
  'unknown_merchant',
  'unknown_order',
  /** The order exists but is already paid, cancelled or otherwise closed. */
  'order_closed',
  'amount_mismatch',
  'currency_mismatch',
  'insufficient_funds',
  'limit_exceeded',
  /** Over the step-up limit without the PIN: the handset may retry with method fingerprint+pin. */
  'pin_required',
  'account_locked',
  'paycode_invalid',
  'paycode_used',
  'paycode_expired',
  'idempotency_conflict',
  'malformed',
  'internal_error',
]);
export type DeclineReason = z.infer<typeof declineReasonSchema>;

/**
 * Cloud -> handset (`handset/v1/{deviceId}/result`) and -> merchant
 * (`merchant/v1/{merchantId}/results`). Both receive the same message for a payment.
 * Approved: `ledgerTransferId` set, no reason, booked = authorised. Declined: `reason`
 * set, booked "0", no transfer. The merchant compares due / authorisedAmount / bookedAmount.
 */
export const resultSchema = z
  .strictObject({
    ...header('result'),
    paymentId: paymentIdSchema,
    flow: z.enum(['scan', 'paycode']),
    deviceId: deviceIdSchema,
    merchantId: merchantIdSchema,
    orderRef: orderRefSchema,
    status: z.enum(['approved', 'declined']),
    reason: declineReasonSchema.optional(),
    currency: currencySchema,
    authorisedAmount: minorUnitsSchema(),
    bookedAmount: minorUnitsSchema(),
    ledgerTransferId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    receivedAt: timestampSchema,
    decidedAt: timestampSchema,
  })
  .superRefine((m, ctx) => {
    if (m.status === 'approved') {
      if (m.reason !== undefined)
        ctx.addIssue({ code: 'custom', message: 'approved result must not carry a reason', path: ['reason'] });
      if (m.ledgerTransferId === undefined)
        ctx.addIssue({ code: 'custom', message: 'approved result needs ledgerTransferId', path: ['ledgerTransferId'] });
      if (m.bookedAmount === 0n)
        ctx.addIssue({ code: 'custom', message: 'approved result books a non-zero amount', path: ['bookedAmount'] });
    } else {
      if (m.reason === undefined) ctx.addIssue({ code: 'custom', message: 'declined result needs a reason', path: ['reason'] });
      if (m.bookedAmount !== 0n)
        ctx.addIssue({ code: 'custom', message: 'declined result books nothing', path: ['bookedAmount'] });
      if (m.ledgerTransferId !== undefined)
        ctx.addIssue({ code: 'custom', message: 'declined result has no transfer', path: ['ledgerTransferId'] });
    }
    if (m.decidedAt < m.receivedAt) ctx.addIssue({ code: 'custom', message: 'decidedAt before receivedAt', path: ['decidedAt'] });
  });

/** Merchant -> cloud on `merchant/v1/{merchantId}/orders`: the amount due, before any payment (scan-to-pay). */
export const merchantOrderSchema = z
  .strictObject({
    ...header('merchant.order'),
    merchantId: merchantIdSchema,
    orderRef: orderRefSchema,
    amount: minorUnitsSchema({ positive: true }),
    currency: currencySchema,
    createdAt: timestampSchema,
    expiresAt: timestampSchema,
  })
  .superRefine((m, ctx) => {
    if (m.expiresAt <= m.createdAt)
      ctx.addIssue({ code: 'custom', message: 'expiresAt must be after createdAt', path: ['expiresAt'] });
  });

/**
 * Merchant -> cloud on `merchant/v1/{merchantId}/charges` (show-to-pay): the pay code the
 * merchant scanned plus the amount it charges. `paymentId` is made by the merchant
 * terminal and is the idempotency key of this charge.
 */
export const merchantChargeSchema = z.strictObject({
  ...header('merchant.charge'),
  paymentId: paymentIdSchema,
  merchantId: merchantIdSchema,
  orderRef: orderRefSchema,
  code: z.string().regex(/^[0-9]{20}$/, 'pay code must be 20 digits'),
  amount: minorUnitsSchema({ positive: true }),
  currency: currencySchema,
  ts: timestampSchema,
});

/** Every message kind, by its `type`. */
export const messageSchemas = {
  'registration.request': registrationRequestSchema,
  'registration.response': registrationResponseSchema,
  authorisation: authorisationSchema,
  result: resultSchema,
  'merchant.order': merchantOrderSchema,
  'merchant.charge': merchantChargeSchema,
} as const;

export type MessageKind = keyof typeof messageSchemas;
export const MESSAGE_KINDS = Object.keys(messageSchemas) as MessageKind[];

export type RegistrationRequest = z.output<typeof registrationRequestSchema>;
export type RegistrationResponse = z.output<typeof registrationResponseSchema>;
export type PaycodeGrant = z.output<typeof paycodeGrantSchema>;
export type EnrolledSlot = z.output<typeof enrolledSlotSchema>;
export type Authorisation = z.output<typeof authorisationSchema>;
/** The signed fields of an authorisation (no v/type/signature). */
export type AuthorisationFields = Omit<Authorisation, 'v' | 'type' | 'signature'>;
export type PaymentResult = z.output<typeof resultSchema>;
export type MerchantOrder = z.output<typeof merchantOrderSchema>;
export type MerchantCharge = z.output<typeof merchantChargeSchema>;

export interface MessageMap {
  'registration.request': RegistrationRequest;
  'registration.response': RegistrationResponse;
  authorisation: Authorisation;
  result: PaymentResult;
  'merchant.order': MerchantOrder;
  'merchant.charge': MerchantCharge;
}
export type AnyMessage = MessageMap[MessageKind];

function pathString(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '$' : path.map((p) => String(p)).join('.');
}

/**
 * Size limit, strict UTF-8, JSON, no duplicate keys: the first checks of every message
 * decoder of the wire contract (these messages, and OTA's with their own size limit).
 */
export function parseJson(bytes: Uint8Array | string, maxBytes = MAX_MESSAGE_BYTES): unknown {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
    // UTF-16 units <= UTF-8 bytes: a string too long in units is too long in bytes
    const size = text.length > maxBytes ? text.length : new TextEncoder().encode(text).length;
    if (size > maxBytes)
      throw new MessageError('MESSAGE_TOO_LARGE', `message exceeds ${maxBytes} bytes`, '$', { details: { size } });
  } else {
    if (!(bytes instanceof Uint8Array)) throw new MessageError('MESSAGE_NOT_BYTES', 'message must be bytes or a string', '$');
    if (bytes.length > maxBytes)
      throw new MessageError('MESSAGE_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${maxBytes}`, '$', {
        details: { size: bytes.length },
      });
    const decoded = fromUtf8(bytes);
    if (typeof decoded !== 'string')
      throw new MessageError('MESSAGE_NOT_UTF8', `invalid UTF-8 at byte ${decoded.offset}`, '$', {
        details: { offset: decoded.offset },
      });
    text = decoded;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new MessageError('MESSAGE_NOT_JSON', `not JSON: ${cause instanceof Error ? cause.message : String(cause)}`, '$');
  }
  const dup = firstDuplicateKey(text);
  if (dup !== undefined)
    throw new MessageError('MESSAGE_DUPLICATE_KEY', `key ${JSON.stringify(dup)} occurs twice in one object`, dup);
  return value;
}

/**
 * First key that occurs twice in one object of (already valid) JSON text. JSON.parse
 * keeps the last one silently; another reader might keep the first, so a message with
 * duplicate keys could mean two things and is refused.
 */
function firstDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') expectKey = stack[stack.length - 1] instanceof Set;
  }
  return undefined;
}

/** Validates an already-parsed JSON value against one kind's schema. */
export function validateMessage<K extends MessageKind>(kind: K, value: unknown): MessageMap[K] {
  const schema = messageSchemas[kind];
  if (!schema) throw new MessageError('MESSAGE_KIND', `unknown message kind ${JSON.stringify(kind)}`, '$');
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new MessageError('MESSAGE_INVALID', 'message must be a JSON object', '$');
  const obj = value as Record<string, unknown>;
  if (obj.v !== undefined && obj.v !== PROTOCOL_VERSION && obj.type === kind)
    throw new MessageError('MESSAGE_VERSION', `unsupported version ${JSON.stringify(obj.v)} of ${kind}`, 'v');
  const r = schema.safeParse(value);
  if (r.success) return r.data as MessageMap[K];
  throw schemaError(kind, r.error);
}

/** A schema failure as the typed error every decoder throws: its first issue, with the field path. */
export function schemaError(kind: string, error: z.ZodError): MessageError {
  const issue = error.issues[0]!;
  let path = [...issue.path];
  if (issue.code === 'unrecognized_keys') path = [...path, issue.keys[0] ?? ''];
  const params = (issue as { params?: { reason?: string } }).params;
  const reason = params?.reason ?? issue.code;
  const where = pathString(path);
  return new MessageError('MESSAGE_INVALID', `${kind}: ${where}: ${issue.message}`, where, { details: { reason, kind } });
}

/**
 * Decodes one raw message of an expected kind: size limit, strict UTF-8, JSON, schema.
 * Returns the typed message (amounts as bigint) or throws MessageError with the field path.
 */
export function decodeMessage<K extends MessageKind>(kind: K, bytes: Uint8Array | string): MessageMap[K] {
  return validateMessage(kind, parseJson(bytes));
}

/** Decodes a message whose kind is read from its own `type` field. */
export function decodeAnyMessage(bytes: Uint8Array | string): AnyMessage {
  const value = parseJson(bytes);
  const type = value !== null && typeof value === 'object' ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !(type in messageSchemas))
    throw new MessageError('MESSAGE_KIND', `unknown message type ${JSON.stringify(type)}`, 'type');
  return validateMessage(type as MessageKind, value);
}

/** JSON text of a message (bigints as decimal strings), validated against its schema first. */
export function encodeMessageText<K extends MessageKind>(kind: K, message: MessageMap[K]): string {
  const text = JSON.stringify(message, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  if (text === undefined) throw new MessageError('MESSAGE_INVALID', 'message is not serialisable', '$');
  decodeMessage(kind, text);
  return text;
}

/** UTF-8 bytes of encodeMessageText(), ready to publish. */
export function encodeMessage<K extends MessageKind>(kind: K, message: MessageMap[K]): Uint8Array {
  return new TextEncoder().encode(encodeMessageText(kind, message));
}

/**
 * A new payment id: UUIDv7 (48-bit ms timestamp, version 7, 74 random bits), lowercase.
 * Time-ordered ids keep ledger indexes compact; the random part makes them unguessable.
 */
export function newPaymentId(randomBytes: (n: number) => Uint8Array, nowMs: number): string {
  const b = randomBytes(16);
  if (b.length !== 16) throw new MessageError('BAD_RANDOM', 'randomBytes(16) returned a wrong length', '$');
  let t = BigInt(Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    b[i] = Number(t & 0xffn);
    t >>= 8n;
  }
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
