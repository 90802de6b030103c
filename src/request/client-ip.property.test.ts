import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { clientAddress, ipKey } from './client-ip';

const defaults = { trustedHops: 1, ipv6Prefix: 64, ipv4Prefix: 32 } as const;
const SPOOFABLE = ['x-forwarded-for', 'x-real-ip', 'true-client-ip', 'forwarded', 'x-client-ip'];
const headerText = fc.string({ unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)), maxLength: 80 });
const ipv4 = fc.ipV4();
const hextet = fc.integer({ min: 0, max: 0xffff });

/** An IPv6 address as eight groups, and the different spellings of it. */
function spellings(groups: number[]): string[] {
  const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
  return [full, full.toUpperCase(), groups.map((g) => g.toString(16)).join(':'), ipaddr.IPv6.parse(full).toString()];
}

describe('client address parsing under fuzzing', () => {
  it('without a trusted proxy, the address is always CF-Connecting-IP, whatever else the client sends', () => {
    fc.assert(
      fc.property(ipv4, fc.array(fc.tuple(fc.constantFrom(...SPOOFABLE), headerText), { maxLength: 5 }), (real, spoofed) => {
        const h = new Headers(spoofed);
        h.set('cf-connecting-ip', real);
        expect(clientAddress(h, defaults)).toBe(real);
      }),
    );
  });

  it('behind one trusted proxy, entries the client prepends to X-Forwarded-For never change the address', () => {
    fc.assert(
      fc.property(
        ipv4,
        ipv4,
        fc.array(
          headerText.filter((t) => !t.includes(',')),
          { maxLength: 6 },
        ),
        (real, proxy, prepended) => {
          const h = new Headers({ 'cf-connecting-ip': proxy, 'x-forwarded-for': [...prepended, real].join(', ') });
          expect(clientAddress(h, { ...defaults, trustedProxyHeader: 'X-Forwarded-For' })).toBe(real);
        },
      ),
    );
  });

  it('behind a trusted proxy that writes a port after the address, each client still has its own address', () => {
    const port = fc.integer({ min: 0, max: 65535 });
    const v6 = fc.array(hextet, { minLength: 8, maxLength: 8 }).map((groups) => ipaddr.IPv6.parse(spellings(groups)[0]!).toString());
    fc.assert(
      fc.property(
        fc.oneof(
          ipv4.map((a) => [a, a] as const),
          v6.map((a) => [a, `[${a}]`] as const),
        ),
        port,
        ipv4,
        ([address, host], p, proxy) => {
          const h = new Headers({ 'cf-connecting-ip': proxy, 'x-forwarded-for': `192.0.2.1, ${host}:${p}` });
          expect(clientAddress(h, { ...defaults, trustedProxyHeader: 'X-Forwarded-For' })).toBe(address);
        },
      ),
    );
  });

  it('a trusted header never yields something that is not an address (it falls back to CF-Connecting-IP)', () => {
    fc.assert(
      fc.property(
        ipv4,
        headerText,
        fc.constantFrom('X-Forwarded-For', 'X-Real-IP', 'True-Client-IP') as fc.Arbitrary<
          'X-Forwarded-For' | 'X-Real-IP' | 'True-Client-IP'
        >,
        (real, value, header) => {
          const h = new Headers({ 'cf-connecting-ip': real, [header]: value });
          const address = clientAddress(h, { ...defaults, trustedProxyHeader: header });
          expect(address === real || ipaddr.isValid(address!)).toBe(true);
          expect(ipKey(address!, defaults)).toBeDefined();
        },
      ),
    );
  });

  it('every address inside one /64, in any spelling, has the key of that /64; outside it, another key', () => {
    fc.assert(
      fc.property(
        fc.array(hextet, { minLength: 8, maxLength: 8 }),
        fc.array(hextet, { minLength: 4, maxLength: 4 }),
        (groups, otherHost) => {
          const key = ipKey(spellings(groups)[0]!, defaults);
          for (const spelling of [...spellings(groups), ...spellings([...groups.slice(0, 4), ...otherHost])])
            expect(ipKey(spelling, defaults)).toBe(key);
          const otherNet = [...groups];
          otherNet[3] = (otherNet[3]! + 1) % 0x10000;
          expect(ipKey(spellings(otherNet)[0]!, defaults)).not.toBe(key);
        },
      ),
    );
  });

  it('an IPv4 address and its IPv4-mapped IPv6 form have one key, at any IPv4 prefix', () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 8, max: 32 }), (v4, prefix) => {
        const settings = { ...defaults, ipv4Prefix: prefix };
        expect(ipKey(`::ffff:${v4}`, settings)).toBe(ipKey(v4, settings));
        expect(ipKey(`::FFFF:${v4}`, settings)).toBe(ipKey(v4, settings));
      }),
    );
  });

  it('never throws for any text, and keys only what parses as an address', () => {
    fc.assert(
      fc.property(fc.oneof(headerText, fc.string({ maxLength: 60 })), (text) => {
        const key = ipKey(text, defaults);
        if (key !== undefined) expect(ipaddr.isValid(text)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ipKey of a dotted quad', () => {
  it('is the address ipaddr.js prints, for any octets (the parser-free path agrees with the parser)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.boolean(), (octets, padded) => {
        const text = octets.map((o) => (padded && o < 100 ? String(o).padStart(3, '0') : String(o))).join('.');
        const settings = { ipv4Prefix: 32, ipv6Prefix: 64 };
        const expected = ipaddr.isValid(text) ? ipaddr.parse(text).toString() : undefined;
        expect(ipKey(text, settings)).toBe(expected);
      }),
    );
  });
});
