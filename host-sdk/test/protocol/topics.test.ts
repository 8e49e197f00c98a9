import { describe, expect, it } from 'vitest';
import {
  createTopics,
  filterCovers,
  identityOf,
  mayPublish,
  maySubscribe,
  mosquittoAcl,
  TopicError,
  topicMatches,
  topics,
} from '../../src/protocol/index';

describe('topics', () => {
  it('builds the versioned topics of DESIGN.md §5', () => {
    expect(topics.auth('hs-0001')).toBe('handset/v1/hs-0001/auth');
    expect(topics.result('hs-0001')).toBe('handset/v1/hs-0001/result');
    expect(topics.register('hs-0001')).toBe('handset/v1/hs-0001/register');
    expect(topics.registerReply('hs-0001')).toBe('handset/v1/hs-0001/register/reply');
    expect(topics.ota('hs-0001', 'offer')).toBe('handset/v1/hs-0001/ota/offer');
    expect(topics.merchantOrders('m-cafe')).toBe('merchant/v1/m-cafe/orders');
    expect(topics.merchantCharges('m-cafe')).toBe('merchant/v1/m-cafe/charges');
    expect(topics.merchantResults('m-cafe')).toBe('merchant/v1/m-cafe/results');
    expect(topics.cloudSubscriptions()).toContain('$share/cloud/handset/v1/+/auth');
    expect(createTopics('t-1234/').auth('hs-1')).toBe('t-1234/handset/v1/hs-1/auth');
  });

  it('refuses ids with wildcards, separators or the wrong role prefix', () => {
    for (const bad of ['hs-a/b', 'hs-+', 'hs-#', 'hs-', 'm-1', 'hs-a b', 'hs-é', '', `hs-${'x'.repeat(62)}`]) {
      expect(() => topics.auth(bad)).toThrow(TopicError);
    }
    expect(() => topics.merchantOrders('hs-1')).toThrow(TopicError);
    expect(() => createTopics('bad root')).toThrow(TopicError);
    expect(() => topics.ota('hs-1', 'a/b')).toThrow(TopicError);
  });

  it('parses topics back and refuses anything outside the contract', () => {
    expect(topics.parse('handset/v1/hs-9/auth')).toEqual({ kind: 'auth', deviceId: 'hs-9' });
    expect(topics.parse('handset/v1/hs-9/register/reply')).toEqual({ kind: 'registerReply', deviceId: 'hs-9' });
    expect(topics.parse('handset/v1/hs-9/ota/offer')).toEqual({ kind: 'ota', deviceId: 'hs-9', name: 'offer' });
    expect(topics.parse('merchant/v1/m-x/charges')).toEqual({ kind: 'merchantCharges', merchantId: 'm-x' });
    for (const bad of ['handset/v2/hs-9/auth', 'handset/v1/m-x/auth', 'handset/v1/hs-9/auth/x', 'merchant/v1/m-x/auth', 'x']) {
      expect(() => topics.parse(bad)).toThrow(TopicError);
    }
  });

  it('matches filters like an MQTT broker', () => {
    expect(topicMatches('handset/v1/+/auth', 'handset/v1/hs-1/auth')).toBe(true);
    expect(topicMatches('handset/v1/+/auth', 'handset/v1/hs-1/result')).toBe(false);
    expect(topicMatches('handset/#', 'handset/v1/hs-1/auth')).toBe(true);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(filterCovers('handset/v1/hs-1/ota/+', 'handset/v1/hs-1/ota/offer')).toBe(true);
    expect(filterCovers('handset/v1/hs-1/ota/+', 'handset/v1/hs-1/ota/#')).toBe(false);
    expect(filterCovers('handset/v1/hs-1/result', 'handset/v1/+/result')).toBe(false);
  });

  it('lets a device publish and subscribe only under its own id', () => {
    expect(identityOf('hs-1')).toEqual({ role: 'device', id: 'hs-1' });
    expect(identityOf('m-1')).toEqual({ role: 'merchant', id: 'm-1' });
    expect(identityOf('cloud-2')).toEqual({ role: 'cloud', id: 'cloud-2' });
    expect(identityOf('mallory')).toBeUndefined();
    expect(mayPublish('hs-1', 'handset/v1/hs-1/auth')).toBe(true);
    expect(mayPublish('hs-1', 'handset/v1/hs-2/auth')).toBe(false);
    expect(mayPublish('hs-1', 'handset/v1/hs-1/result')).toBe(false);
    expect(mayPublish('hs-1', 'handset/v1/+/auth')).toBe(false);
    expect(mayPublish('hs-1', 'merchant/v1/m-1/orders')).toBe(false);
    expect(mayPublish('m-1', 'merchant/v1/m-1/charges')).toBe(true);
    expect(mayPublish('m-1', 'handset/v1/hs-1/auth')).toBe(false);
    expect(mayPublish('cloud', 'handset/v1/hs-1/result')).toBe(true);
    expect(mayPublish('cloud', 'handset/v1/hs-1/auth')).toBe(false);
    expect(mayPublish(undefined, 'handset/v1/hs-1/auth')).toBe(false);
    expect(mayPublish({ role: 'device', id: 'm-1' }, 'merchant/v1/m-1/orders')).toBe(false);

    expect(maySubscribe('hs-1', 'handset/v1/hs-1/result')).toBe(true);
    expect(maySubscribe('hs-1', 'handset/v1/hs-1/ota/+')).toBe(true);
    expect(maySubscribe('hs-1', 'handset/v1/+/result')).toBe(false);
    expect(maySubscribe('hs-1', 'handset/v1/hs-1/#')).toBe(false);
    expect(maySubscribe('hs-1', '#')).toBe(false);
    expect(maySubscribe('hs-1', '$share/g/handset/v1/hs-1/result')).toBe(true);
    expect(maySubscribe('hs-1', '$share/g/handset/v1/+/result')).toBe(false);
    expect(maySubscribe('hs-1', '$share/handset/v1/hs-1/result')).toBe(false);
    expect(maySubscribe('cloud', '$share/cloud/handset/v1/+/auth')).toBe(true);
    expect(maySubscribe('cloud', 'handset/v1/+/auth')).toBe(true);
    expect(maySubscribe('cloud', 'handset/#')).toBe(false);
    expect(maySubscribe('m-1', 'merchant/v1/m-1/results')).toBe(true);
    expect(maySubscribe('m-1', 'merchant/v1/m-2/results')).toBe(false);
    expect(mayPublish('hs-1', 'test-1/handset/v1/hs-1/auth', 'test-1/')).toBe(true);
    expect(mayPublish('hs-1', 'handset/v1/hs-1/auth', 'test-1/')).toBe(false);
  });

  it('generates a Mosquitto ACL file with the same rules', () => {
    const acl = mosquittoAcl({ root: 'r/', cloudUsers: ['cloud', 'cloud-2'] });
    expect(acl).toContain('pattern write r/handset/v1/%u/auth\n');
    expect(acl).toContain('pattern read r/handset/v1/%u/result\n');
    expect(acl).toContain('pattern write r/merchant/v1/%u/charges\n');
    expect(acl).toContain('user cloud-2\n');
    expect(acl).toContain('topic read r/handset/v1/+/auth\n');
    expect(acl).not.toMatch(/pattern (read|write) .*#/);
    expect(() => mosquittoAcl({ cloudUsers: ['hs-1'] })).toThrow(TopicError);
  });
});
