import type { KeyDecision, KeyRequest } from '../algorithms/decide';

/** The object calls a batcher needs: one request, or several decided in order in one call. */
export interface BatchLimiter {
  check(request: KeyRequest): Promise<KeyDecision> | KeyDecision;
  checkBatch(requests: readonly KeyRequest[]): Promise<KeyDecision[]> | KeyDecision[];
}

type Turn =
  | { readonly kind: 'decided'; readonly decision: KeyDecision }
  | { readonly kind: 'lead'; readonly batch: Waiter[]; readonly queue: Queue };

interface Waiter {
  readonly request: KeyRequest;
  /** `sent` once its call is on its way; `withdrawn` when it stopped waiting and asked alone. */
  state: 'waiting' | 'sent' | 'withdrawn';
  resolve(turn: Turn | undefined): void;
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
 * context of a request that is waiting for it; the object's stub is made
 * where the call is sent, never carried over from an earlier context. A request whose batch has not
 * been sent within its patience (its sender may have been cancelled) stops
 * waiting and asks the object alone, so it is still decided, and counted,
 * exactly once.
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

  /**
   * Decides `request` through the key's object, in the next batch when a call
   * for `key` is in flight.
   *
   * @param stubOf makes the key object's stub, called where the call is sent
   * @param patienceMs how long to wait for a batch to be sent before asking alone
   */
  async check(key: string, stubOf: () => BatchLimiter, request: KeyRequest, patienceMs = 1_000): Promise<KeyDecision> {
    const probe = stubOf();
    const queue = this.queues.get(key);
    let batch: Waiter[];
    let mine: Queue;
    // A request that waited may resume in another context than the one its first stub was made in.
    let waited = false;
    if (queue && request.now - queue.since < this.staleMs) {
      if (queue.waiters.length >= this.maxBatch) return probe.check(request);
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The timer is also this request's own pending work, so workerd does not take it for hung while it waits.
      const turn = await new Promise<Turn | undefined>((resolve, reject) => {
        const waiter: Waiter = { request, state: 'waiting', resolve, reject };
        queue.waiters.push(waiter);
        timer = setTimeout(() => {
          if (waiter.state !== 'waiting') return;
          waiter.state = 'withdrawn';
          resolve(undefined);
        }, patienceMs);
      });
      if (timer !== undefined) clearTimeout(timer);
      if (!turn) return stubOf().check(request);
      if (turn.kind === 'decided') return turn.decision;
      ({ batch, queue: mine } = turn);
      waited = true;
    } else {
      mine = { since: request.now, waiters: [] };
      this.queues.set(key, mine);
      batch = [{ request, state: 'sent', resolve: () => {}, reject: () => {} }];
    }
    // Requests that gave up meanwhile asked alone; the rest go now. The sender itself is first.
    batch = batch.filter((w) => w.state !== 'withdrawn');
    for (const w of batch) w.state = 'sent';
    try {
      const limiter = waited ? stubOf() : probe;
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
    const waiting = mine.waiters.filter((w) => w.state === 'waiting');
    if (waiting.length === 0) {
      if (current) this.queues.delete(key);
      return;
    }
    const next: Queue = { since: now, waiters: [] };
    if (current) this.queues.set(key, next);
    const [sender] = waiting;
    // Committed from here: its patience no longer applies.
    sender!.state = 'sent';
    sender!.resolve({ kind: 'lead', batch: waiting, queue: next });
  }

  /** Keys with a call in flight. */
  get size(): number {
    return this.queues.size;
  }
}
