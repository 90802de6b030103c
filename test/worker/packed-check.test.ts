import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { BanRequest, LimitRequest } from '../../src/algorithms/decide';
import { packSpec, unpackDecision } from '../../src/protocol/wire';

const limits: LimitRequest[] = [
  { id: 'api/1s', config: { algorithm: 'fixed-window', limit: 4, windowMs: 1000 }, cost: 1, countRefused: false, shadow: false },
  { id: 'api/1m', config: { algorithm: 'sliding-window', limit: 10, windowMs: 60_000 }, cost: 1, countRefused: true, shadow: false },
  { id: 'probe/1m', config: { algorithm: 'gcra', limit: 3, windowMs: 60_000 }, cost: 1, countRefused: false, shadow: true },
];
const bans: BanRequest[] = [{ rule: 'api', after: 5, withinMs: 60_000, durationMs: 30_000 }];

describe('the packed check of a key object', () => {
  it('decides exactly as check does, request for request, through refusals and a ban', async () => {
    const id = crypto.randomUUID();
    const plain = env.RATE_LIMITER.getByName(`plain-${id}`);
    const packed = env.RATE_LIMITER.getByName(`packed-${id}`);
    const spec = packSpec(limits, bans);
    const t0 = Date.now();
    let refused = 0;
    let banned = 0;
    for (let i = 0; i < 40; i++) {
      const now = t0 + i * 150;
      const expected = await plain.check({ now, limits, bans });
      const answer = unpackDecision(await packed.checkPacked(now, spec), limits);
      expect(answer).toEqual(expected);
      if (!expected.allowed) refused++;
      if (expected.banned) banned++;
    }
    // The sequence reaches every branch it compares: admissions, refusals and the ban.
    expect(refused).toBeGreaterThan(5);
    expect(banned).toBeGreaterThan(0);
  });

  it('refuses a spec it cannot read, with the reason', async () => {
    const stub = env.RATE_LIMITER.getByName(`bad-spec-${crypto.randomUUID()}`);
    const error = await stub.checkPacked(Date.now(), JSON.stringify([99, [], []])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(error)).toMatch(/version 99, this object reads version 1/);
  });
});
