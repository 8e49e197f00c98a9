import { TopicError } from './errors';

/**
 * MQTT topics of the wire contract (DESIGN.md §5), all QoS 1, versioned by the `v1`
 * level so a v2 can run beside them.
 *
 * | topic                                   | publisher  | subscriber | payload (messages.ts)   |
 * | --------------------------------------- | ---------- | ---------- | ----------------------- |
 * | handset/v1/{deviceId}/register          | handset    | cloud      | registration.request    |
 * | handset/v1/{deviceId}/register/reply    | cloud      | handset    | registration.response   |
 * | handset/v1/{deviceId}/auth              | handset    | cloud      | authorisation           |
 * | handset/v1/{deviceId}/result            | cloud      | handset    | result                  |
 * | handset/v1/{deviceId}/status            | handset    | cloud      | free-form (LWT online/offline) |
 * | handset/v1/{deviceId}/ota/{name}        | cloud      | handset    | OTA offers (ota/offer, ...) |
 * | handset/v1/{deviceId}/ota-report/{name} | handset    | cloud      | OTA progress reports    |
 * | merchant/v1/{merchantId}/orders         | merchant   | cloud      | merchant.order          |
 * | merchant/v1/{merchantId}/charges        | merchant   | cloud      | merchant.charge (pay code) |
 * | merchant/v1/{merchantId}/results        | cloud      | merchant   | result                  |
 *
 * Identifiers: device ids are `hs-` + 1-61 of `[A-Za-z0-9_-]`, merchant ids `m-` + 1-62 of
 * the same. The prefixes keep the two id spaces disjoint, which is what lets one
 * Mosquitto ACL file (whose `pattern` lines cannot tell roles apart) give a device only
 * its own `handset/v1/<id>/...` topics and a merchant only its own `merchant/v1/<id>/...`.
 * No id may contain `/`, `+`, `#`, `$`, `%`, whitespace or NUL.
 *
 * An optional root prefix (e.g. `test-3f9a/`) is put in front of every topic; tests on
 * the shared Mosquitto use it to keep their traffic apart. ACL checks take the same root.
 */

export const DEVICE_ID_RE = /^hs-[A-Za-z0-9_-]{1,61}$/;
export const MERCHANT_ID_RE = /^m-[A-Za-z0-9_-]{1,62}$/;
/** Client id of a cloud worker / admin: `cloud-...`. */
export const CLOUD_ID_RE = /^cloud(-[A-Za-z0-9_-]{1,58})?$/;
/** Root prefix for tests: one or more safe levels, each followed by `/`. */
const ROOT_RE = /^([A-Za-z0-9_-]{1,64}\/){0,4}$/;

/** Shared-subscription group used by cloud workers (`$share/cloud/...`). */
export const CLOUD_SHARE_GROUP = 'cloud';

export function isDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID_RE.test(id);
}
export function isMerchantId(id: unknown): id is string {
  return typeof id === 'string' && MERCHANT_ID_RE.test(id);
}

function checkId(kind: 'device' | 'merchant', id: string): string {
  const ok = kind === 'device' ? isDeviceId(id) : isMerchantId(id);
  if (!ok) {
    const rule = kind === 'device' ? DEVICE_ID_RE : MERCHANT_ID_RE;
    throw new TopicError(`BAD_${kind.toUpperCase()}_ID`, `${kind} id ${JSON.stringify(id)} does not match ${rule}`, {
      details: { id },
    });
  }
  return id;
}

function checkRoot(root: string): string {
  if (typeof root !== 'string' || !ROOT_RE.test(root))
    throw new TopicError('BAD_TOPIC_ROOT', `topic root ${JSON.stringify(root)} must be empty or safe levels ending in "/"`, {
      details: { root },
    });
  return root;
}

/** Topic builders for one root prefix (default: none). Every builder validates its id. */
export interface Topics {
  readonly root: string;
  register(deviceId: string): string;
  registerReply(deviceId: string): string;
  auth(deviceId: string): string;
  result(deviceId: string): string;
  status(deviceId: string): string;
  /** Cloud -> handset OTA topic, e.g. `ota('hs-1', 'offer')`. */
  ota(deviceId: string, name: string): string;
  /** Handset -> cloud OTA report topic, e.g. `otaReport('hs-1', 'progress')`. */
  otaReport(deviceId: string, name: string): string;
  merchantOrders(merchantId: string): string;
  merchantCharges(merchantId: string): string;
  merchantResults(merchantId: string): string;
  /** Subscriptions of a cloud worker: MQTT 5 shared subscriptions `$share/cloud/...` so N workers split the load. */
  cloudSubscriptions(options?: { shared?: boolean }): string[];
  /** Reads a topic back: which kind, which id. Throws TopicError for anything not in the contract. */
  parse(topic: string): ParsedTopic;
}

export type TopicKind =
  | 'register'
  | 'registerReply'
  | 'auth'
  | 'result'
  | 'status'
  | 'ota'
  | 'otaReport'
  | 'merchantOrders'
  | 'merchantCharges'
  | 'merchantResults';

export type ParsedTopic =
  | { kind: Exclude<TopicKind, 'ota' | 'otaReport' | 'merchantOrders' | 'merchantCharges' | 'merchantResults'>; deviceId: string }
  | { kind: 'ota' | 'otaReport'; deviceId: string; name: string }
  | { kind: 'merchantOrders' | 'merchantCharges' | 'merchantResults'; merchantId: string };

const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;

function checkName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new TopicError('BAD_TOPIC_NAME', `topic level ${JSON.stringify(name)} is not [A-Za-z0-9_-]{1,32}`);
  return name;
}

/** Builds the topic helpers for a root prefix ('' in production, e.g. 'test-abc/' in tests). */
export function createTopics(root = ''): Topics {
  checkRoot(root);
  const h = (id: string, rest: string) => `${root}handset/v1/${checkId('device', id)}/${rest}`;
  const m = (id: string, rest: string) => `${root}merchant/v1/${checkId('merchant', id)}/${rest}`;
  return {
    root,
    register: (id) => h(id, 'register'),
    registerReply: (id) => h(id, 'register/reply'),
    auth: (id) => h(id, 'auth'),
    result: (id) => h(id, 'result'),
    status: (id) => h(id, 'status'),
    ota: (id, name) => h(id, `ota/${checkName(name)}`),
    otaReport: (id, name) => h(id, `ota-report/${checkName(name)}`),
    merchantOrders: (id) => m(id, 'orders'),
    merchantCharges: (id) => m(id, 'charges'),
    merchantResults: (id) => m(id, 'results'),
    cloudSubscriptions({ shared = true } = {}) {
      const filters = [
        `${root}handset/v1/+/register`,
        `${root}handset/v1/+/auth`,
        `${root}handset/v1/+/status`,
        `${root}handset/v1/+/ota-report/+`,
        `${root}merchant/v1/+/orders`,
        `${root}merchant/v1/+/charges`,
      ];
      return shared ? filters.map((f) => `$share/${CLOUD_SHARE_GROUP}/${f}`) : filters;
    },
    parse(topic) {
      if (typeof topic !== 'string' || !topic.startsWith(root))
        throw new TopicError('UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)} is outside root ${JSON.stringify(root)}`);
      const parts = topic.slice(root.length).split('/');
      const [ns, ver, id, a, b, c] = parts;
      const bad = () =>
        new TopicError('UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)} is not part of the v1 contract`, { details: { topic } });
      if (ver !== 'v1' || id === undefined || a === undefined || c !== undefined) throw bad();
      if (ns === 'handset' && isDeviceId(id)) {
        if (b === undefined) {
          if (a === 'register' || a === 'auth' || a === 'result' || a === 'status') return { kind: a, deviceId: id };
          throw bad();
        }
        if (a === 'register' && b === 'reply') return { kind: 'registerReply', deviceId: id };
        if (a === 'ota' && NAME_RE.test(b)) return { kind: 'ota', deviceId: id, name: b };
        if (a === 'ota-report' && NAME_RE.test(b)) return { kind: 'otaReport', deviceId: id, name: b };
        throw bad();
      }
      if (ns === 'merchant' && isMerchantId(id) && b === undefined) {
        if (a === 'orders') return { kind: 'merchantOrders', merchantId: id };
        if (a === 'charges') return { kind: 'merchantCharges', merchantId: id };
        if (a === 'results') return { kind: 'merchantResults', merchantId: id };
      }
      throw bad();
    },
  };
}

/** Production topics (no root prefix). */
export const topics: Topics = createTopics();

/** Who is connected: the authenticated MQTT username (= client id) decides the role. */
export type Identity = { role: 'device'; id: string } | { role: 'merchant'; id: string } | { role: 'cloud'; id: string };

/**
 * Maps an MQTT username / client id to an identity: `hs-*` is a device, `m-*` a merchant,
 * `cloud` / `cloud-*` a cloud worker. Anything else has no rights (undefined).
 * The broker must authenticate the username (password file, TLS identity) before trusting it.
 */
export function identityOf(clientId: string | undefined | null): Identity | undefined {
  if (typeof clientId !== 'string') return undefined;
  if (isDeviceId(clientId)) return { role: 'device', id: clientId };
  if (isMerchantId(clientId)) return { role: 'merchant', id: clientId };
  if (CLOUD_ID_RE.test(clientId)) return { role: 'cloud', id: clientId };
  return undefined;
}

/** Strips an MQTT 5 shared-subscription prefix: `$share/group/x/y` -> `x/y`; undefined if malformed. */
export function stripSharePrefix(filter: string): string | undefined {
  if (!filter.startsWith('$share/')) return filter;
  const m = /^\$share\/([^/+#]+)\/(.+)$/.exec(filter);
  return m ? m[2] : undefined;
}

/** True if `topic` (no wildcards) matches MQTT `filter` (with + and #). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return i === f.length - 1 && !(i === 0 && (t[0] ?? '').startsWith('$'));
    if (i >= t.length) return false;
    if (level === '+') {
      if (i === 0 && t[0]!.startsWith('$')) return false;
      continue;
    }
    if (level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** True if every topic matched by `inner` is also matched by `outer` (both may hold wildcards). */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  for (let i = 0; i < o.length; i++) {
    const level = o[i]!;
    if (level === '#') return i === o.length - 1;
    if (i >= n.length) return false;
    const x = n[i]!;
    if (x === '#') return false;
    if (level === '+') continue;
    if (x === '+' || x !== level) return false;
  }
  return o.length === n.length;
}

/** Valid topic name for publishing: non-empty, no wildcards, no NUL, <= 65535 bytes. */
function isPublishTopic(topic: string): boolean {
  return (
    typeof topic === 'string' &&
    topic.length > 0 &&
    topic.length <= 1024 &&
    !/[+#]/.test(topic) &&
    !topic.includes('\u0000') &&
    !topic.startsWith('$')
  );
}

function isFilter(filter: string): boolean {
  if (typeof filter !== 'string' || filter.length === 0 || filter.length > 1024 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => l === '+' || (l === '#' && i === levels.length - 1) || !/[+#]/.test(l));
}

/** The ACL rules, as topic filters relative to a root, per role; `{id}` is the identity's own id. */
export const ACL_RULES: Readonly<Record<Identity['role'], { publish: readonly string[]; subscribe: readonly string[] }>> =
  Object.freeze({
    device: {
      publish: ['handset/v1/{id}/register', 'handset/v1/{id}/auth', 'handset/v1/{id}/status', 'handset/v1/{id}/ota-report/+'],
      subscribe: ['handset/v1/{id}/register/reply', 'handset/v1/{id}/result', 'handset/v1/{id}/ota/+'],
    },
    merchant: {
      publish: ['merchant/v1/{id}/orders', 'merchant/v1/{id}/charges'],
      subscribe: ['merchant/v1/{id}/results'],
    },
    cloud: {
      publish: ['handset/v1/+/register/reply', 'handset/v1/+/result', 'handset/v1/+/ota/+', 'merchant/v1/+/results'],
      subscribe: [
        'handset/v1/+/register',
        'handset/v1/+/auth',
        'handset/v1/+/status',
        'handset/v1/+/ota-report/+',
        'merchant/v1/+/orders',
        'merchant/v1/+/charges',
      ],
    },
  });

function rulesFor(identity: Identity, op: 'publish' | 'subscribe', root: string): string[] {
  return ACL_RULES[identity.role][op].map((r) => root + r.replace('{id}', identity.id));
}

function asIdentity(who: Identity | string | undefined | null): Identity | undefined {
  if (who && typeof who === 'object') {
    const checked = identityOf(who.id);
    return checked && checked.role === who.role ? checked : undefined;
  }
  return identityOf(who);
}

/**
 * May this client publish to `topic`? A device only under its own id, a merchant only
 * under its own id, the cloud only the cloud -> handset/merchant topics. Pure: usable
 * from aedes `authorizePublish` and in tests; `mosquittoAcl()` emits the same rules.
 */
export function mayPublish(who: Identity | string | undefined | null, topic: string, root = ''): boolean {
  const identity = asIdentity(who);
  if (!identity || !isPublishTopic(topic)) return false;
  return rulesFor(identity, 'publish', root).some((f) => topicMatches(f, topic));
}

/**
 * May this client subscribe to `filter`? The filter (after removing a `$share/group/`
 * prefix, as Mosquitto does) must be covered by one of the role's allowed filters, so
 * `handset/v1/+/result` is refused for a device while `handset/v1/<own id>/ota/+` is allowed.
 */
export function maySubscribe(who: Identity | string | undefined | null, filter: string, root = ''): boolean {
  const identity = asIdentity(who);
  if (!identity || typeof filter !== 'string') return false;
  const inner = stripSharePrefix(filter);
  if (inner === undefined || !isFilter(inner)) return false;
  return rulesFor(identity, 'subscribe', root).some((f) => filterCovers(f, inner));
}

/**
 * A Mosquitto ACL file enforcing the same rules as mayPublish/maySubscribe.
 *
 * Device and merchant rules are `pattern` lines with `%u` (the authenticated username,
 * which must equal the device / merchant id; Mosquitto refuses the substitution for
 * usernames holding `+`, `#` or `/`, and our id grammar has none). The two id spaces are
 * disjoint (`hs-` vs `m-`), so a merchant can never match a device pattern. The cloud
 * workers get explicit `user` sections.
 */
export function mosquittoAcl(options: { root?: string; cloudUsers?: readonly string[] } = {}): string {
  const root = checkRoot(options.root ?? '');
  const cloudUsers = options.cloudUsers ?? ['cloud'];
  const lines: string[] = [
    '# generated by @handset/host-sdk/protocol mosquittoAcl(), do not edit',
    '# devices: username = device id (hs-...); merchants: username = merchant id (m-...)',
  ];
  for (const u of cloudUsers) {
    if (!CLOUD_ID_RE.test(u))
      throw new TopicError('BAD_CLOUD_ID', `cloud user ${JSON.stringify(u)} does not match ${CLOUD_ID_RE}`);
    lines.push('', `user ${u}`);
    for (const f of ACL_RULES.cloud.publish) lines.push(`topic write ${root}${f}`);
    for (const f of ACL_RULES.cloud.subscribe) lines.push(`topic read ${root}${f}`);
  }
  lines.push('', '# per-identity patterns (apply to every user)');
  for (const role of ['device', 'merchant'] as const) {
    for (const f of ACL_RULES[role].publish) lines.push(`pattern write ${root}${f.replace('{id}', '%u')}`);
    for (const f of ACL_RULES[role].subscribe) lines.push(`pattern read ${root}${f.replace('{id}', '%u')}`);
  }
  return `${lines.join('\n')}\n`;
}
