import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizePath, pathReadings } from './normalize-path';

describe('normalizePath', () => {
  it.each([
    ['/x', '/x'],
    ['/x/', '/x'],
    ['//x', '/x'],
    ['///x//', '/x'],
    ['/a/../x', '/x'],
    ['/./x', '/x'],
    ['/%78', '/x'],
    ['/%2578', '/x'],
    ['/X', '/x'],
    ['/a%2Fb', '/a/b'],
    ['/a%2fb', '/a/b'],
    ['/a\\b', '/a/b'],
    ['/a/%2e%2e/x', '/x'],
    ['/../../x', '/x'],
    ['', '/'],
    ['/', '/'],
    ['/uploads/import-url', '/uploads/import-url'],
    ['/a%20b', '/a%20b'],
    ['/a%3Fb', '/a%3fb'],
  ])('normalises %j to %j', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  it.each([
    ['/admin/users', ['/admin/users']],
    ['/admin/..%2Fusers', ['/users', '/admin/..%2fusers']],
    ['/admin/..%252fusers', ['/users', '/admin/..%2fusers']],
    ['/admin/..;/users', ['/users', '/admin/..;/users']],
    ['/items/a%2Fb', ['/items/a/b', '/items/a%2fb']],
    ['/a/../%78/', ['/x']],
  ])('reads %j as %j', (raw, expected) => {
    expect(pathReadings(raw)).toEqual(expected);
  });

  it('keeps case when asked to', () => {
    expect(normalizePath('/Api/../X/', true)).toBe('/X');
  });

  it('is idempotent for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (raw) => {
        const once = normalizePath(raw);
        expect(normalizePath(once)).toBe(once);
      }),
    );
  });

  it('always yields an absolute path without empty, dot or trailing segments', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'B', '.', '..', '', '%2e', '%2F', '%41', '\\', 'x y'), { maxLength: 20 }), (parts) => {
        const out = normalizePath(`/${parts.join('/')}`);
        expect(out.startsWith('/')).toBe(true);
        if (out !== '/') {
          expect(out.endsWith('/')).toBe(false);
          expect(out.split('/').slice(1)).not.toContain('');
          expect(out.split('/')).not.toContain('..');
          expect(out.split('/')).not.toContain('.');
        }
      }),
    );
  });
});
