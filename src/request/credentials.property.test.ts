import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorizationValue, basicUser, bearerToken, headerValue, MAX_CREDENTIAL_LENGTH, userKey } from './credentials';

/** Header values as a client can send them: ASCII without CR, LF or NUL (workerd warns on, and re-encodes, other bytes). */
const headerText = fc.string({
  unit: fc
    .integer({ min: 1, max: 127 })
    .filter((c) => c !== 10 && c !== 13)
    .map((c) => String.fromCharCode(c)),
  maxLength: 300,
});
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'basic', 'Digest', '');
const authorization = fc.oneof(
  headerText,
  fc.tuple(scheme, fc.constantFrom(' ', '  ', '\t'), headerText).map(([s, sp, v]) => `${s}${sp}${v}`),
);

function headers(value: string): Headers | undefined {
  try {
    return new Headers({ authorization: value, 'x-api-key': value });
  } catch {
    return undefined; // not a value a client could send
  }
}

const toBase64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

describe('credential parsers under fuzzing', () => {
  it('never throw, and yield nothing or a trimmed value within the length bound', () => {
    fc.assert(
      fc.property(authorization, (value) => {
        const h = headers(value);
        if (!h) return;
        for (const parsed of [bearerToken(h), basicUser(h), authorizationValue(h), headerValue(h, 'x-api-key')]) {
          if (parsed === undefined) continue;
          expect(parsed.length).toBeGreaterThan(0);
          expect(parsed.length).toBeLessThanOrEqual(MAX_CREDENTIAL_LENGTH);
          expect(parsed).toBe(parsed.trim());
        }
        const token = bearerToken(h);
        if (token !== undefined) expect(token).not.toMatch(/\s/);
      }),
      { numRuns: 2000 },
    );
  });

  it('a bearer token is read the same whatever the scheme case and spacing', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,200}$/),
        scheme.filter((s) => /^bearer$/i.test(s)),
        fc.constantFrom(' ', '   ', '\t', ' \t '),
        fc.constantFrom('', ' ', '  '),
        (token, s, gap, tail) => {
          expect(bearerToken(new Headers({ authorization: `${s}${gap}${token}${tail}` }))).toBe(token);
        },
      ),
    );
  });

  it('the Basic user does not depend on the password, the colon or the padding', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }).filter((u) => !u.includes(':') && u.trim() === u && u.length > 0),
        fc.string({ maxLength: 40 }),
        (user, password) => {
          const keyOf = (userPass: string) => {
            const parsed = basicUser(new Headers({ authorization: `Basic ${toBase64(userPass)}` }));
            return parsed === undefined ? undefined : userKey(parsed);
          };
          const expected = keyOf(user);
          expect(expected).toBeDefined();
          expect(keyOf(`${user}:${password}`)).toBe(expected);
          expect(keyOf(`${user}:`)).toBe(expected);
          const unpadded = basicUser(new Headers({ authorization: `Basic ${toBase64(`${user}:${password}`).replace(/=+$/, '')}` }));
          expect(unpadded === undefined ? undefined : userKey(unpadded)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('user keys fold case and compatibility forms: upper case and full-width letters share the lower-case key', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,20}$/), (user) => {
        const bytes = (text: string) => String.fromCharCode(...new TextEncoder().encode(text));
        const fullWidth = [...user].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');
        expect(userKey(bytes(user))).toBe(user);
        expect(userKey(bytes(user.toUpperCase()))).toBe(user);
        expect(userKey(bytes(fullWidth))).toBe(user);
      }),
    );
  });

  it('an over-long credential counts as absent rather than being hashed', () => {
    const long = 'a'.repeat(MAX_CREDENTIAL_LENGTH + 1);
    const h = new Headers({ authorization: `Bearer ${long}`, 'x-api-key': long });
    expect([bearerToken(h), authorizationValue(h), headerValue(h, 'x-api-key')]).toEqual([undefined, undefined, undefined]);
    expect(basicUser(new Headers({ authorization: `Basic ${toBase64(`${long}:pw`)}` }))).toBeUndefined();
  });
});
