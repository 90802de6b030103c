import { describe, expect, it } from 'vitest';
import { normalizePath } from '../request/normalize-path';
import { compileHostPattern, compilePathPattern, pathPatternError } from './path-pattern';

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
    ['/api/v1/gems', '/api/v1/gems.json', false],
    ['/api/v1/gems(.:format)', '/api/v1/gems', true],
    ['/api/v1/gems(.:format)', '/api/v1/gems.json', true],
    ['/api/v1/gems(.:format)', '/api/v1/gems.yaml', true],
    ['/api/v1/gems(.:format)', '/api/v1/gems.', false],
    ['/api/v1/gems(.:format)', '/api/v1/gems.json.yaml', false],
    ['/api/v1/gems(.:format)', '/api/v1/gemsjson', false],
    ['/api/v1/gems(.:format)', '/api/v1/gems/json', false],
    ['/api/v1/gems(.:format)', '/api/v1/gems.json/x', false],
    ['/api/v1/gems(.json|yaml)', '/api/v1/gems.yaml', true],
    ['/api/v1/gems(.json|yaml)', '/api/v1/gems', true],
    ['/api/v1/gems(.json|yaml)', '/api/v1/gems.xml', false],
    ['/api/v1/gems(.JSON|yaml)', '/api/v1/gems.json', true],
    ['/api/v1/gems/:gem/owners(.:format)', '/api/v1/gems/rails/owners.yaml', true],
    ['/api/v1/gems/:gem/owners(.:format)', '/api/v1/gems/rails.json/owners', true],
    ['/api/v1/gems/:gem(.:format)', '/api/v1/gems/rails.json', true],
    ['/api/v1/gems/:gem(.:format)', '/api/v1/gems/rails/owners', false],
    ['/api/v1/gems/*/yank(.:format)', '/api/v1/gems/x/yank.json', true],
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

describe('pathPatternError', () => {
  const cases: Array<[string, string | undefined]> = [
    ['/x', undefined],
    ['/x(.:format)', undefined],
    ['/x/:id(.json|yaml)', undefined],
    ['/x(.:format)/y', 'a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern'],
    ['/x(.:fmt)', 'a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern'],
    ['/x(json)', 'a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern'],
    ['/x(.json|)', 'a format suffix is "(.:format)" or "(.json|yaml)", at the end of the pattern'],
    ['/x/*(.:format)', 'a format suffix follows a segment: "/x(.:format)", "/x/:id(.:format)"'],
    ['/(.:format)', 'a format suffix follows a segment: "/x(.:format)", "/x/:id(.:format)"'],
  ];
  it.each(cases)('%s: %s', (pattern, expected) => {
    expect(pathPatternError(pattern)).toBe(expected);
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
