import { describe, expect, it } from 'vitest';
import type { KeyDecision, KeyRequest } from '../algorithms/decide';
import { type BatchLimiter, CheckBatcher } from './check-batcher';

/** A key's object that admits `limit` requests, and whose calls finish only when the test says so. */
function object(limit: number) {
  let count = 0;
  const calls: number[] = [];
  const gates: Array<() => void> = [];
  const decide = (): KeyDecision => {
    const allowed = count < limit;
    if (allowed) count++;
    return { allowed, outcomes: [] };
  };
  const limiter: BatchLimiter = {
    async check() {
      calls.push(1);
      await new Promise<void>((r) => gates.push(r));
      return decide();
    },
    async checkBatch(requests: readonly KeyRequest[]) {
      calls.push(requests.length);
      await new Promise<void>((r) => gates.push(r));
      return requests.map(decide);
    },
  };
  const open = async () => {
    while (gates.length === 0) await Promise.resolve();
    gates.shift()!();
  };
  return { limiter, calls, open };
}

const request = (now = 0): KeyRequest => ({ now, limits: [] });

describe('CheckBatcher', () => {
  it('sends a lone request at once, on its own', async () => {
    const key = object(5);
    const batcher = new CheckBatcher();
    const answer = batcher.check('k', () => key.limiter, request());
    await key.open();
    expect((await answer).allowed).toBe(true);
    expect(key.calls).toEqual([1]);
    expect(batcher.size).toBe(0);
  });

  it('sends requests that arrive during a call together in the next one, decided in order', async () => {
    const key = object(3);
    const batcher = new CheckBatcher();
    const first = batcher.check('k', () => key.limiter, request());
    const rest = [1, 2, 3, 4].map(() => batcher.check('k', () => key.limiter, request()));
    await key.open();
    await key.open();
    const answers = await Promise.all([first, ...rest]);
    expect(key.calls).toEqual([1, 4]);
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false, false]);
    expect(batcher.size).toBe(0);
  });

  it('keeps keys apart', async () => {
    const a = object(1);
    const b = object(1);
    const batcher = new CheckBatcher();
    const answers = Promise.all([batcher.check('a', () => a.limiter, request()), batcher.check('b', () => b.limiter, request())]);
    await a.open();
    await b.open();
    expect((await answers).map((x) => x.allowed)).toEqual([true, true]);
  });

  it('fails the whole batch with its call, and lets the next batch go on', async () => {
    let fail = true;
    let releaseFirst!: () => void;
    const firstGate = new Promise<void>((r) => (releaseFirst = r));
    const limiter: BatchLimiter = {
      async check() {
        await firstGate;
        return { allowed: true, outcomes: [] };
      },
      async checkBatch(requests) {
        if (fail) {
          fail = false;
          throw new Error('object down');
        }
        return requests.map(() => ({ allowed: true, outcomes: [] }));
      },
    };
    const batcher = new CheckBatcher();
    const first = batcher.check('k', () => limiter, request());
    const failed = [batcher.check('k', () => limiter, request()), batcher.check('k', () => limiter, request())];
    releaseFirst();
    expect((await first).allowed).toBe(true);
    await Promise.all(failed.map((p) => expect(p).rejects.toThrow('object down')));
    expect(batcher.size).toBe(0);
    expect((await batcher.check('k', () => limiter, request())).allowed).toBe(true);
  });

  it('stops collecting behind a call in flight too long, and still serves those already waiting', async () => {
    const key = object(10);
    const batcher = new CheckBatcher(128, 1_000);
    const stuck = batcher.check('k', () => key.limiter, request(0));
    const waiting = batcher.check('k', () => key.limiter, request(500));
    const fresh = batcher.check('k', () => key.limiter, request(1_500));
    await key.open(); // the stuck call
    await key.open(); // the fresh call
    await key.open(); // the waiter, sent after the stuck call
    expect((await Promise.all([stuck, waiting, fresh])).every((a) => a.allowed)).toBe(true);
    expect(key.calls).toEqual([1, 1, 1]);
  });

  it('sends a batch of one as a plain check', async () => {
    let calls = 0;
    const batcher = new CheckBatcher();
    const limiter: BatchLimiter = {
      check: () => (calls++, { allowed: true, outcomes: [] }),
      checkBatch: () => Promise.reject(new Error('a batch of one is sent as a check')),
    };
    await Promise.all([batcher.check('k', () => limiter, request()), batcher.check('k', () => limiter, request())]);
    expect(calls).toBe(2);
  });
});

describe('CheckBatcher when a batch is never sent', () => {
  it('lets waiting requests ask alone after their patience, each decided once', async () => {
    let checks = 0;
    let batches = 0;
    const limiter: BatchLimiter = {
      // The first call never answers, as if its request had been cancelled.
      check: () => (checks++ === 0 ? new Promise<KeyDecision>(() => {}) : { allowed: true, outcomes: [] }),
      checkBatch: (requests) => (batches++, requests.map(() => ({ allowed: true, outcomes: [] }))),
    };
    const batcher = new CheckBatcher();
    void batcher.check('k', () => limiter, request(), 5);
    const waiters = await Promise.all([batcher.check('k', () => limiter, request(), 5), batcher.check('k', () => limiter, request(), 5)]);
    expect(waiters.every((d) => d.allowed)).toBe(true);
    expect(checks).toBe(3);
    expect(batches).toBe(0);
  });

  it('leaves out of a batch the requests that already asked alone', async () => {
    const sent: number[] = [];
    let releaseFirst!: () => void;
    const first = new Promise<void>((r) => (releaseFirst = r));
    let alone = 0;
    const limiter: BatchLimiter = {
      async check(r) {
        if (r.now === 0) await first;
        else alone++;
        return { allowed: true, outcomes: [] };
      },
      checkBatch: (requests) => (sent.push(requests.length), requests.map(() => ({ allowed: true, outcomes: [] }))),
    };
    const batcher = new CheckBatcher();
    const leader = batcher.check('k', () => limiter, request(0));
    const impatient = batcher.check('k', () => limiter, request(1), 1);
    const patient = [batcher.check('k', () => limiter, request(2), 60_000), batcher.check('k', () => limiter, request(3), 60_000)];
    expect((await impatient).allowed).toBe(true);
    releaseFirst();
    await Promise.all([leader, ...patient]);
    expect(alone).toBe(1);
    expect(sent).toEqual([2]);
  });
});
