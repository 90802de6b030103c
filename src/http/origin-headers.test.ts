import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../policy/parse';
import {
  type ClientAddressForwarding,
  DEFAULT_FORWARDING,
  dropHopByHop,
  forwardedFor,
  forwardingOf,
  setClientAddress,
} from './origin-headers';

const rules = [{ name: 'r', key: 'ip' as const, limits: [{ limit: 10, window: '1m' }] }];
const SPOOFED = { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.7', Forwarded: 'for=6.6.6.8' };
const all: ClientAddressForwarding = { headers: ['X-Forwarded-For', 'X-Real-IP', 'Forwarded'], keepChain: false };

const told = (headers: Headers) => ({
  xff: headers.get('x-forwarded-for'),
  realIp: headers.get('x-real-ip'),
  forwarded: headers.get('forwarded'),
});

describe('dropHopByHop', () => {
  it('drops the hop-by-hop set and Proxy-Authorization, and keeps end-to-end headers', () => {
    const headers = new Headers({
      Connection: 'keep-alive',
      'Keep-Alive': 'timeout=5',
      'Proxy-Connection': 'keep-alive',
      TE: 'trailers',
      Trailer: 'X-Checksum',
      'Transfer-Encoding': 'chunked',
      Upgrade: 'h2c',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      Authorization: 'Bearer kept',
      Accept: 'application/json',
    });
    dropHopByHop(headers);
    expect([...headers.keys()].sort()).toEqual(['accept', 'authorization']);
  });

  it('drops every header the Connection header names, in any case and spacing', () => {
    const headers = new Headers({
      Connection: 'close,  X-Hop-Secret ,x-other-hop, , not a token',
      'x-hop-secret': 's',
      'X-Other-Hop': 'o',
      'X-Kept': 'k',
    });
    dropHopByHop(headers);
    expect([...headers.keys()]).toEqual(['x-kept']);
  });

  it('reads every Connection header a request carries', () => {
    const headers = new Headers([
      ['Connection', 'X-First'],
      ['Connection', 'X-Second'],
      ['X-First', '1'],
      ['X-Second', '2'],
    ]);
    dropHopByHop(headers);
    expect([...headers.keys()]).toEqual([]);
  });
});

describe('forwardedFor', () => {
  it.each([
    ['192.0.2.60', 'for=192.0.2.60'],
    ['2001:db8:cafe::17', 'for="[2001:db8:cafe::17]"'],
  ])('writes %s as %s (RFC 7239)', (address, element) => {
    expect(forwardedFor(address)).toBe(element);
  });
});

describe('setClientAddress', () => {
  it("by default replaces the client's X-Forwarded-For, X-Real-IP and Forwarded with the address, telling it in the first two", () => {
    const headers = new Headers({ ...SPOOFED, Accept: '*/*' });
    setClientAddress(headers, '203.0.113.7', DEFAULT_FORWARDING);
    expect(told(headers)).toEqual({ xff: '203.0.113.7', realIp: '203.0.113.7', forwarded: null });
    expect(headers.get('accept')).toBe('*/*');
  });

  it('writes the address in every header the policy asks for, IPv6 in canonical form and bracketed in Forwarded', () => {
    const headers = new Headers(SPOOFED);
    setClientAddress(headers, '2001:0DB8:0000::0001', all);
    expect(told(headers)).toEqual({ xff: '2001:db8::1', realIp: '2001:db8::1', forwarded: 'for="[2001:db8::1]"' });
  });

  it('tells an IPv4-mapped IPv6 address as its IPv4 address, as it is limited', () => {
    const headers = new Headers();
    setClientAddress(headers, '::ffff:192.0.2.1', all);
    expect(told(headers)).toEqual({ xff: '192.0.2.1', realIp: '192.0.2.1', forwarded: 'for=192.0.2.1' });
  });

  it("keeps a trusted proxy's X-Forwarded-For chain and appends the address, still dropping X-Real-IP and Forwarded the client sent", () => {
    const headers = new Headers({ ...SPOOFED, 'X-Forwarded-For': 'spoofed, 198.51.100.4' });
    setClientAddress(headers, '198.51.100.4', { ...all, keepChain: true });
    expect(told(headers)).toEqual({ xff: 'spoofed, 198.51.100.4, 198.51.100.4', realIp: '198.51.100.4', forwarded: 'for=198.51.100.4' });
  });

  it("with an empty list drops the client's headers and tells nothing", () => {
    const headers = new Headers(SPOOFED);
    setClientAddress(headers, '203.0.113.7', { headers: [], keepChain: false });
    expect(told(headers)).toEqual({ xff: null, realIp: null, forwarded: null });
  });

  it("when off leaves the client's headers exactly as they came", () => {
    const headers = new Headers(SPOOFED);
    setClientAddress(headers, '203.0.113.7', { headers: false, keepChain: false });
    expect(told(headers)).toEqual({ xff: '6.6.6.6', realIp: '6.6.6.7', forwarded: 'for=6.6.6.8' });
  });

  it.each([undefined, 'not-an-address', '203.0.113.7"; by=evil'])(
    "without a usable address (%s) only drops the client's headers",
    (address) => {
      const headers = new Headers(SPOOFED);
      setClientAddress(headers, address, all);
      expect(told(headers)).toEqual({ xff: null, realIp: null, forwarded: null });
    },
  );
});

describe('forwardingOf', () => {
  it('defaults to X-Forwarded-For and X-Real-IP without a kept chain', () => {
    expect(forwardingOf(parsePolicy({ name: 'p', rules }))).toEqual({ headers: ['X-Forwarded-For', 'X-Real-IP'], keepChain: false });
  });

  it("keeps the chain only when the policy trusts a proxy's X-Forwarded-For", () => {
    expect(forwardingOf(parsePolicy({ name: 'p', rules, clientIp: { trustedProxyHeader: 'X-Forwarded-For' } })).keepChain).toBe(true);
    expect(forwardingOf(parsePolicy({ name: 'p', rules, clientIp: { trustedProxyHeader: 'X-Real-IP' } })).keepChain).toBe(false);
  });

  it('takes the headers, or off, from forwardClientAddress', () => {
    expect(forwardingOf(parsePolicy({ name: 'p', rules, forwardClientAddress: ['Forwarded'] })).headers).toEqual(['Forwarded']);
    expect(forwardingOf(parsePolicy({ name: 'p', rules, forwardClientAddress: false })).headers).toBe(false);
  });
});
