import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostAndPath, pathAndSearch } from './url-parts';

const pick = (url: URL) => ({ hostname: url.hostname, pathname: url.pathname });

describe('hostAndPath', () => {
  it.each([
    'https://api.example.com/v1/packages?page=2',
    'http://API.Example.com.:8080/',
    'https://user:p%40ss@api.example.com/x#frag',
    'https://a@b@api.example.com/x',
    'http://[2001:db8::1]:8787/v1/x?y=1',
    'http://[::ffff:192.0.2.1]/',
    'http://192.0.2.1:80/a/../b/%2F?q#a?b',
    'https://api.example.com/a#f/g?h',
    'https://xn--bcher-kva.example/%E2%82%AC',
    'http://localhost/',
  ])('reads %s as the URL parser does', (raw) => {
    const href = new Request(raw).url;
    expect(hostAndPath(href)).toEqual(pick(new URL(href)));
  });

  it.each([
    ['https://api.example.com/v1/packages?page=2#top', '/v1/packages?page=2'],
    ['https://api.example.com/x?', '/x'],
    ['https://api.example.com/x?a?', '/x?a?'],
    ['https://api.example.com/x?#f', '/x'],
    ['http://[2001:db8::1]:8787/a/%2F..?q=%23', '/a/%2F..?q=%23'],
  ])('reads the path and query of %s as %s, as the URL parser does', (raw, expected) => {
    const href = new Request(raw).url;
    expect(pathAndSearch(href)).toBe(expected);
    expect(pathAndSearch(href)).toBe(`${new URL(href).pathname}${new URL(href).search}`);
  });

  it('parses URLs of other schemes in full', () => {
    expect(hostAndPath('ftp://files.example.com/a')).toEqual({ hostname: 'files.example.com', pathname: '/a' });
  });

  it('agrees with the URL parser on any serialised http(s) URL (property)', () => {
    const text = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength });
    const host = fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((a) => `[${a}]`),
    );
    const piece = text("aZ09/.%2f@:;?#[]é \\~!$&'()*+,=", 24);
    fc.assert(
      fc.property(
        fc.constantFrom('http', 'https'),
        fc.option(text('ab:@%', 8), { nil: undefined }),
        host,
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        piece,
        (scheme, userinfo, hostname, port, rest) => {
          let href: string;
          try {
            href = new URL(
              `${scheme}://${userinfo !== undefined ? `${userinfo}@` : ''}${hostname}${port !== undefined ? `:${port}` : ''}/${rest}`,
            ).href;
          } catch {
            return;
          }
          expect(hostAndPath(href)).toEqual(pick(new URL(href)));
          expect(pathAndSearch(href)).toBe(`${new URL(href).pathname}${new URL(href).search}`);
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
