import { describe, expect, it } from 'vitest';
import { normalizePath } from '../request/normalize-path';
import { compileHostPattern, compilePathPattern } from './path-pattern';

describe('compilePathPattern', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/x', '/x', true],
    ['/x', '/x/y', false],
    ['/x', '/xy', false],
    ['/x/*', '/x', true],
    ['/x/*', '/x/y/z', true],
    ['/x/*', '/xy', false],
    ['/info/*', '/info/rails', true],
    ['/users/:id/keys', '/users/42/keys', true],
    ['/users/:id/keys', '/users/42/43/keys', false],
    ['/users/*/keys', '/users/42/keys', true],
    ['*', '/anything/at/all', true],
    ['/', '/', true],
    ['/', '/x', false],
    ['/API/V1/Gems', '/api/v1/gems', true],
  ];
  it.each(cases)('%s on %s is %s', (pattern, path, expected) => {
    expect(compilePathPattern(pattern, false)(path)).toBe(expected);
  });

  it('matches every disguise of the path once normalised', () => {
    const matches = compilePathPattern('/x', false);
    for (const raw of ['/x', '/x/', '//x', '/a/../x', '/%78', '/X', '/./x', '/%2e%2e/x']) {
      expect(matches(normalizePath(raw)), raw).toBe(true);
    }
  });

  it('respects case when asked', () => {
    expect(compilePathPattern('/X', true)(normalizePath('/x', true))).toBe(false);
  });
});

describe('compileHostPattern', () => {
  it('matches exact hosts and subdomain wildcards', () => {
    expect(compileHostPattern('api.example.com')('api.example.com')).toBe(true);
    expect(compileHostPattern('API.example.com')('api.example.com')).toBe(true);
    expect(compileHostPattern('*.example.com')('eu.api.example.com')).toBe(true);
    expect(compileHostPattern('*.example.com')('example.com')).toBe(false);
    expect(compileHostPattern('*.example.com')('badexample.com')).toBe(false);
  });
});
