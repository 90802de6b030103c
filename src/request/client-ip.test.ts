import { describe, expect, it } from 'vitest';
import { clientAddress, ipKey } from './client-ip';

const defaults = { trustedHops: 1, ipv6Prefix: 64, ipv4Prefix: 32 } as const;

describe('clientAddress', () => {
  it('uses CF-Connecting-IP and ignores forwarding headers by default', () => {
    const headers = new Headers({
      'cf-connecting-ip': '203.0.113.7',
      'x-forwarded-for': '1.1.1.1',
      'x-real-ip': '2.2.2.2',
      'true-client-ip': '3.3.3.3',
    });
    expect(clientAddress(headers, defaults)).toBe('203.0.113.7');
  });

  it('takes the trusted hop from the right of X-Forwarded-For when a proxy is trusted', () => {
    const headers = new Headers({ 'cf-connecting-ip': '10.0.0.1', 'x-forwarded-for': 'spoofed, 198.51.100.4, 10.0.0.9' });
    expect(clientAddress(headers, { ...defaults, trustedProxyHeader: 'X-Forwarded-For', trustedHops: 2 })).toBe('198.51.100.4');
    expect(clientAddress(headers, { ...defaults, trustedProxyHeader: 'X-Forwarded-For', trustedHops: 1 })).toBe('10.0.0.9');
  });

  it.each([
    ['198.51.100.10:1234', '198.51.100.10'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['203.0.113.9:0', '203.0.113.9'],
    ['203.0.113.9:65535', '203.0.113.9'],
  ])("reads the address of a trusted proxy's X-Forwarded-For entry %s with a port as %s", (entry, address) => {
    const headers = new Headers({ 'cf-connecting-ip': '10.0.0.1', 'x-forwarded-for': `192.0.2.1, ${entry}` });
    expect(clientAddress(headers, { ...defaults, trustedProxyHeader: 'X-Forwarded-For' })).toBe(address);
  });

  it('reads an address with a port from a trusted X-Real-IP or True-Client-IP', () => {
    expect(
      clientAddress(new Headers({ 'cf-connecting-ip': '10.0.0.1', 'x-real-ip': '198.51.100.10:1234' }), {
        ...defaults,
        trustedProxyHeader: 'X-Real-IP',
      }),
    ).toBe('198.51.100.10');
    expect(
      clientAddress(new Headers({ 'cf-connecting-ip': '10.0.0.1', 'true-client-ip': '[2001:db8::1]:443' }), {
        ...defaults,
        trustedProxyHeader: 'True-Client-IP',
      }),
    ).toBe('2001:db8::1');
  });

  it('keeps an IPv6 address whose last group looks like a port whole', () => {
    const headers = new Headers({ 'cf-connecting-ip': '10.0.0.1', 'x-forwarded-for': '2001:db8::1:443' });
    expect(clientAddress(headers, { ...defaults, trustedProxyHeader: 'X-Forwarded-For' })).toBe('2001:db8::1:443');
  });

  it.each([
    '198.51.100.10:65536',
    '198.51.100.10:',
    '198.51.100.10:12a',
    '198.51.100.10:1234:5',
    '[198.51.100.10]:1234',
    '[2001:db8::1]:',
    '[2001:db8::1]:99999',
    '[2001:db8::1',
    '2001:db8::1]:443',
    '[not-an-ip]:443',
    'example.com:443',
    '[]:443',
  ])('falls back to CF-Connecting-IP for the garbled entry %s', (entry) => {
    const headers = new Headers({ 'cf-connecting-ip': '10.0.0.1', 'x-forwarded-for': entry });
    expect(clientAddress(headers, { ...defaults, trustedProxyHeader: 'X-Forwarded-For' })).toBe('10.0.0.1');
  });

  it('is undefined without any address', () => {
    expect(clientAddress(new Headers(), defaults)).toBeUndefined();
  });
});

describe('ipKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::1', '2001:db8:1:2::/64'],
  ])('keys %s as %s', (address, key) => {
    expect(ipKey(address, defaults)).toBe(key);
  });

  it('groups IPv4 by a configured prefix', () => {
    expect(ipKey('203.0.113.7', { ...defaults, ipv4Prefix: 24 })).toBe('203.0.113.0/24');
  });

  it('refuses garbage', () => {
    expect(ipKey('not-an-ip', defaults)).toBeUndefined();
    expect(ipKey('1.2.3.4, 5.6.7.8', defaults)).toBeUndefined();
  });
});
