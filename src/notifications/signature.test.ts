import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './signature';

const NOW = 1_800_000_000_000;

describe('webhook signatures', () => {
  it('signs the timestamp and body with HMAC-SHA256 (checked against a known vector)', async () => {
    // printf '1800000000.{}' | openssl dgst -sha256 -hmac secret
    expect(await signBody('secret', '{}', NOW)).toBe('t=1800000000,v1=bb7079132825ac793cea8c013c1dd24d926b9b02132245b10588d9e5c0df70d7');
  });

  it('verifies its own signatures and refuses a changed body, another secret or an old timestamp', async () => {
    const header = await signBody('secret', '{"a":1}', NOW);
    expect(await verifySignature('secret', '{"a":1}', header, NOW + 1000)).toBe(true);
    expect(await verifySignature('secret', '{"a":2}', header, NOW)).toBe(false);
    expect(await verifySignature('other', '{"a":1}', header, NOW)).toBe(false);
    expect(await verifySignature('secret', '{"a":1}', header, NOW + 301_000)).toBe(false);
    expect(await verifySignature('secret', '{"a":1}', null, NOW)).toBe(false);
    expect(await verifySignature('secret', '{"a":1}', 't=x,v1=00', NOW)).toBe(false);
  });
});
