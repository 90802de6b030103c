import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePathPattern } from '../policy/path-pattern';
import { literalReading, normalizePath, pathReadings, resolvePath } from './normalize-path';

/** Path segments of unreserved characters: the paths rules are written for. */
const segment = fc.stringMatching(/^[A-Za-z0-9\-_~][A-Za-z0-9\-._~]{0,11}$/).filter((s) => s !== '.' && s !== '..');
const segments = fc.array(segment, { minLength: 1, maxLength: 6 });

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** One way of writing a character that an origin would decode back to it. */
const charDisguise = (c: string) =>
  fc.constantFrom(c, c.toUpperCase(), c.toLowerCase(), hex(c), hex(c).toUpperCase(), `%25${hex(c).slice(1)}`, `%2525${hex(c).slice(1)}`);

/** Disguises a canonical path the ways the hostile tests use, at random. */
function disguised(parts: string[]): fc.Arbitrary<string> {
  const segmentArbs = parts.map((p) => fc.tuple(...[...p].map(charDisguise)).map((cs) => cs.join('')));
  const separator = fc.constantFrom('/', '//', '/./', '\\', '%2F', '%2f', '%252F', '/x/../', '/%2e/', '/y/%2e%2e/', '/Y/%2E%2E//');
  const parameter = fc.constantFrom('', '', ';', ';jsessionid=abc', ';a=1;b=2');
  return fc
    .tuple(
      fc.tuple(...segmentArbs),
      fc.array(separator, { minLength: parts.length, maxLength: parts.length }),
      fc.array(parameter, { minLength: parts.length, maxLength: parts.length }),
      fc.constantFrom('', '/', '//', '/.'),
    )
    .map(([segs, seps, params, tail]) => segs.map((s, i) => `${i === 0 ? '/' : seps[i]}${s}${params[i]}`).join('') + tail);
}

describe('path normalisation against disguises (property)', () => {
  it('every disguise of a path normalises to the same path as the canonical spelling', () => {
    fc.assert(
      fc.property(
        segments.chain((parts) => fc.tuple(fc.constant(parts), disguised(parts))),
        ([parts, disguise]) => {
          expect(normalizePath(disguise)).toBe(normalizePath(`/${parts.join('/')}`));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a prefix rule matches every disguise of every path below it', () => {
    fc.assert(
      fc.property(
        segments.chain((parts) => fc.tuple(fc.constant(parts), disguised(parts))),
        ([parts, disguise]) => {
          const matches = compilePathPattern(`/${parts[0]}/*`, false);
          expect(matches(normalizePath(disguise))).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws and always yields a rooted path, for any text including long and binary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: fc.constantFrom('%', '2', '5', 'F', '/', '.', ';', '\\\\'), maxLength: 400 }),
        ),
        (raw) => {
          const out = normalizePath(raw);
          expect(out.startsWith('/')).toBe(true);
          expect(normalizePath(out)).toBe(out);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a 100 kB path normalises without trouble', () => {
    expect(normalizePath(`/a${'/b/..'.repeat(20_000)}/c`)).toBe('/a/c');
    expect(normalizePath('/%2e%2e'.repeat(20_000))).toBe('/');
  });

  it.each([
    ['/login;jsessionid=1', '/login'],
    ['/admin/..;/secret', '/secret'],
    ['/a;x/b;y=1', '/a/b'],
    ['/;x/a', '/a'],
    ['/a%3Bb', '/a%3bb'],
  ])('drops path parameters: %j is %j', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  it('gives the literal reading whenever it differs from the lenient one (the shortcut that skips it is sound)', () => {
    const piece = fc.constantFrom(
      'a',
      'B',
      '/',
      '//',
      '.',
      '..',
      '%2f',
      '%2F',
      '%5c',
      '%25',
      '%252f',
      '%41',
      ';',
      ';x=1',
      '\\',
      '%3b',
      '~',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 16 }), fc.boolean(), (pieces, caseSensitive) => {
        const raw = `/${pieces.join('')}`;
        const lenient = normalizePath(raw, caseSensitive);
        const literal = literalReading(raw, caseSensitive);
        expect(pathReadings(raw, caseSensitive)).toEqual(literal === lenient ? [lenient] : [lenient, literal]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('the shortcut for plain paths gives what every step of each reading gives', () => {
    const piece = fc.constantFrom(
      'a',
      'Z',
      '0',
      '-',
      '_',
      '~',
      '.',
      '..',
      '/',
      '//',
      '!',
      '@',
      ':',
      '=',
      '+',
      ',',
      '%41',
      '%2f',
      ';',
      '\\',
      '?',
      ' ',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (pieces, caseSensitive) => {
        const raw = `/${pieces.join('')}`;
        expect(normalizePath(raw, caseSensitive)).toBe(resolvePath(raw, caseSensitive, true));
        expect(literalReading(raw, caseSensitive)).toBe(resolvePath(raw, caseSensitive, false));
      }),
      { numRuns: 5_000 },
    );
  });
});
