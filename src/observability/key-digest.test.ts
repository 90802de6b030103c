import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KEY_DIGEST_SECRET_MIN_BYTES, keyDigester, keyDigesterOf } from './key-digest';

const SECRET = 'c2f1a7e04b9d3c6e8a5f7b2d1e0c9a8b7f6e5d4c3b2a1908';
const OTHER_SECRET = '0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeedd';
const NAME = 'ip=192.0.2.1';

/** The first 8 bytes, in hex, of what node:crypto computes: independent of the Web Crypto code under test. */
const hmacVector = (secret: string, name: string) => createHmac('sha256', secret).update(name, 'utf8').digest('hex').slice(0, 16);
const sha256Vector = (name: string) => createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16);

/** Silences the log; the returned function reads the JSON lines written since. */
function captureLog(): () => Array<Record<string, unknown>> {
  const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
  return () => spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
}

/** The module as a new isolate loads it: nothing logged yet, no key imported. */
async function freshModule(): Promise<typeof import('./key-digest')> {
  vi.resetModules();
  return import('./key-digest');
}

afterEach(() => vi.restoreAllMocks());

describe('keyDigester', () => {
  it('with a secret, is the first 8 bytes of HMAC-SHA-256 over the key name, in hex', async () => {
    const digest = await keyDigester(SECRET).digest(NAME);
    expect(digest).toBe(hmacVector(SECRET, NAME));
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
    expect(keyDigester(SECRET).keyed).toBe(true);
  });

  it('without a secret, is the first 8 bytes of SHA-256 over the key name, as before', async () => {
    expect(await keyDigester(undefined).digest(NAME)).toBe(sha256Vector(NAME));
    expect(await keyDigesterOf({}).digest(NAME)).toBe(sha256Vector(NAME));
    expect(keyDigester(undefined).keyed).toBe(false);
  });

  it('keyed and unkeyed digests of a key differ', async () => {
    expect(await keyDigester(SECRET).digest(NAME)).not.toBe(await keyDigester(undefined).digest(NAME));
  });

  it('gives the same digest for the same secret, also from a module loaded afresh (another isolate, a restart)', async () => {
    const first = await keyDigester(SECRET).digest(NAME);
    await keyDigester(OTHER_SECRET).digest(NAME);
    expect(await keyDigester(SECRET).digest(NAME)).toBe(first);
    const fresh = await freshModule();
    expect(await fresh.keyDigester(SECRET).digest(NAME)).toBe(first);
    expect(await fresh.keyDigesterOf({ KEY_DIGEST_SECRET: SECRET }).digest(NAME)).toBe(first);
  });

  it('gives another digest under another secret', async () => {
    const other = await keyDigester(OTHER_SECRET).digest(NAME);
    expect(other).toBe(hmacVector(OTHER_SECRET, NAME));
    expect(other).not.toBe(await keyDigester(SECRET).digest(NAME));
  });

  it('is one digester per secret, which answers a key it has digested without a promise', async () => {
    const digester = keyDigesterOf({ KEY_DIGEST_SECRET: SECRET });
    expect(keyDigester(SECRET)).toBe(digester);
    const name = 'ip=198.51.100.7';
    expect(digester.digest(name)).toBeInstanceOf(Promise);
    const digest = await digester.digest(name);
    expect(digester.digest(name)).toBe(digest);
  });

  it('says once per isolate, when it first digests, that unkeyed digests are reversible and which secret keys them', async () => {
    const fresh = await freshModule();
    const lines = captureLog();
    await fresh.keyDigester(undefined).digest('ip=192.0.2.2');
    await fresh.keyDigester(undefined).digest('ip=192.0.2.3');
    await fresh.keyDigesterOf({}).digest('ip=192.0.2.4');
    expect(lines()).toEqual([{ event: 'key_digest_unkeyed', secret: 'KEY_DIGEST_SECRET', detail: expect.stringContaining('reversed') }]);
    expect(lines()[0]!.detail).toContain('wrangler secret put KEY_DIGEST_SECRET');
  });

  it('logs nothing when keyed', async () => {
    const fresh = await freshModule();
    const lines = captureLog();
    await fresh.keyDigester(SECRET).digest(NAME);
    expect(lines()).toEqual([]);
  });

  it(`refuses a secret under ${KEY_DIGEST_SECRET_MIN_BYTES} bytes: logged once naming the variable, never the value, and digests fall back to unkeyed`, async () => {
    const fresh = await freshModule();
    const short = 'k'.repeat(KEY_DIGEST_SECRET_MIN_BYTES - 1);
    const lines = captureLog();
    const digests = [await fresh.keyDigester(short).digest(NAME), await fresh.keyDigesterOf({ KEY_DIGEST_SECRET: short }).digest(NAME)];
    expect(digests).toEqual([sha256Vector(NAME), sha256Vector(NAME)]);
    expect(fresh.keyDigester(short).keyed).toBe(false);
    expect(lines().map((l) => l.event)).toEqual(['key_digest_secret_invalid', 'key_digest_unkeyed']);
    expect(lines()[0]).toEqual({
      event: 'key_digest_secret_invalid',
      secret: 'KEY_DIGEST_SECRET',
      detail: expect.stringContaining('32 bytes'),
    });
    expect(JSON.stringify(lines())).not.toContain(short);
  });

  it('counts the secret in UTF-8 bytes, and takes one of exactly the minimum', async () => {
    const exact = 'k'.repeat(KEY_DIGEST_SECRET_MIN_BYTES);
    expect(await keyDigester(exact).digest(NAME)).toBe(hmacVector(exact, NAME));
    // 16 two-byte letters: 32 bytes.
    const accented = 'é'.repeat(KEY_DIGEST_SECRET_MIN_BYTES / 2);
    expect(await keyDigester(accented).digest(NAME)).toBe(hmacVector(accented, NAME));
  });

  it('refuses a binding that is not a string, without failing', async () => {
    const fresh = await freshModule();
    const lines = captureLog();
    expect(await fresh.keyDigesterOf({ KEY_DIGEST_SECRET: { value: SECRET } }).digest(NAME)).toBe(sha256Vector(NAME));
    expect(lines()[0]).toMatchObject({ event: 'key_digest_secret_invalid', detail: expect.stringContaining('not a string') });
  });
});
