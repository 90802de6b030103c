import type { KeyDecision, KeyRequest } from '../algorithms/decide';

/** The object calls a batcher needs: one request, or several decided in order in one call. */
export interface BatchLimiter {
  check(request: KeyRequest): Promise<KeyDecision> | KeyDecision;
  checkBatch?(requests: readonly KeyRequest[]): Promise<KeyDecision[]> | KeyDecision[];
}

type Turn = { readonly kind: 'decided'; readonly decision: KeyDecision } | { readonly kind: 'lead'; readonly batch: Waiter[]; readonly queue: Queue };

interface Waiter {
  readonly request: KeyRequest;
  resolve(turn: Turn): void;
  reject(error: unknown): void;
}

interface Queue {
  /** When the call in flight was sent (the request clock). */
  readonly since: number;
  readonly waiters: Waiter[];
}

/**
 * Coalesces one isolate's concurrent calls to the same key's object. The
 * first request for a key is sent at once; requests arriving while it is in
 * flight wait and go together in the next call, which the object decides one
 * by one, in order, as if they had come separately: the same decisions as
 * exact mode, for one call and one row write per limit per batch. A request
 * alone pays nothing extra.
 *
 * Each batch is sent by one of its own requests, so every call runs in the
 * context of a request that is waiting for it.
 */
export class CheckBatcher {
  private readonly queues = new Map<string, Queue>();

  /**
   * @param maxBatch most requests in one call
   * @param staleMs a call in flight longer than this no longer collects followers (its sender may be gone)
   */
  constructor(
    private readonly maxBatch = 128,
    private readonly staleMs = 2_000,
  ) {}

  async check(key: string, limiter: BatchLimiter, request: KeyRequest): Promise<KeyDecision> {
    if (!limiter.checkBatch) return limiter.check(request);
    const queue = this.queues.get(key);
    let batch: Waiter[];
    let mine: Queue;
    if (queue && request.now - queue.since < this.staleMs) {
      if (queue.waiters.length >= this.maxBatch) return limiter.check(request);
      const turn = await new Promise<Turn>((resolve, reject) => queue.waiters.push({ request, resolve, reject }));
      if (turn.kind === 'decided') return turn.decision;
      ({ batch, queue: mine } = turn);
    } else {
      mine = { since: request.now, waiters: [] };
      this.queues.set(key, mine);
      batch = [{ request, resolve: () => {}, reject: () => {} }];
    }
    try {
      const decisions = batch.length === 1 ? [await limiter.check(request)] : await limiter.checkBatch(batch.map((w) => w.request));
      batch.forEach((w, i) => {
        if (i > 0) w.resolve({ kind: 'decided', decision: decisions[i]! });
      });
      return decisions[0]!;
    } catch (error) {
      for (const w of batch.slice(1)) w.reject(error);
      throw error;
    } finally {
      this.handOver(key, mine, request.now);
    }
  }

  /**
   * Passes the turn to the requests that queued behind this call: the first
   * of them sends their call. A queue replaced for being stale still hands
   * its waiters on, outside the map, so none is left waiting.
   */
  private handOver(key: string, mine: Queue, now: number): void {
    const current = this.queues.get(key) === mine;
    if (mine.waiters.length === 0) {
      if (current) this.queues.delete(key);
      return;
    }
    const next: Queue = { since: now, waiters: [] };
    if (current) this.queues.set(key, next);
    mine.waiters[0]!.resolve({ kind: 'lead', batch: mine.waiters, queue: next });
  }

  /** Keys with a call in flight. */
  get size(): number {
    return this.queues.size;
  }
}
