import { type BanState, decideKey, type KeyDecision, type KeyRequest } from '../../src/algorithms/decide';
import { grantLease, type LeaseAnswer, type LeaseRequest } from '../../src/algorithms/lease';
import type { LimitState } from '../../src/algorithms/types';
import type { KeyLimiter } from '../../src/protocol/key-limiter';
import { keyLimiterFrom } from '../../src/protocol/stand-in';
import type { Network, Region } from './network';
import type { SimClock } from './sim-clock';

/** How a simulated object serves: the time one call holds it, and how long its queue may grow. */
export interface ObjectModel {
  /** Time one call occupies the object (ms): 1 ms is its ~1,000 requests/s soft limit. */
  readonly serviceMs: number;
  /** A call that would wait longer than this in the queue is refused as overloaded. */
  readonly maxQueueMs: number;
}

/**
 * One key's Durable Object, placed in the region of the first call that
 * reaches it. It decides as the real object does, with the same pure
 * functions on the same rows ({@link decideKey} for a check, {@link grantLease}
 * for a lease), one call at a time: a call waits in a queue while the object
 * serves earlier ones, and one that would wait longer than `maxQueueMs` is
 * refused as overloaded (the error the runtime raises, `overloaded: true`).
 * Storage is not modelled: its write policy never changes a decision.
 */
export class KeyObject {
  private readonly rows = new Map<string, LimitState>();
  private bans = new Map<string, BanState>();
  private busyUntil = 0;
  /** Calls served, and refused as overloaded. */
  calls = 0;
  overloaded = 0;

  constructor(
    readonly region: Region,
    private readonly clock: SimClock,
    private readonly network: Network,
    private readonly model: ObjectModel,
  ) {}

  /** The object as the worker in `caller` sees it: every call crosses the network both ways. */
  stubFrom(caller: Region): KeyLimiter {
    return keyLimiterFrom({
      check: (request: KeyRequest) => this.call(caller, () => this.check(request)),
      lease: (request: LeaseRequest) => this.call(caller, () => this.lease(request)),
    });
  }

  private check(request: KeyRequest): KeyDecision {
    const { decision, limitWrites, banWrites } = decideKey(
      (id) => this.rows.get(id),
      (rule) => this.bans.get(rule),
      request,
    );
    for (const [id, state] of limitWrites) this.rows.set(id, state);
    for (const [rule, state] of banWrites) this.bans.set(rule, state);
    return decision;
  }

  private lease(request: LeaseRequest): LeaseAnswer {
    const { answer, limitWrites } = grantLease((id) => this.rows.get(id), request);
    for (const [id, state] of limitWrites) this.rows.set(id, state);
    return answer;
  }

  private call<T>(caller: Region, work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.clock.setTimeout(
        () => {
          const arrived = this.clock.now();
          const back = this.network.oneWay(this.region, caller);
          const start = Math.max(arrived, this.busyUntil);
          if (start - arrived > this.model.maxQueueMs) {
            this.overloaded++;
            const error = Object.assign(new Error('Durable Object is overloaded'), { overloaded: true });
            this.clock.setTimeout(() => reject(error), back);
            return;
          }
          this.busyUntil = start + this.model.serviceMs;
          this.clock.at(this.busyUntil, () => {
            this.calls++;
            const answer = work();
            this.clock.setTimeout(() => resolve(answer), back);
          });
        },
        this.network.oneWay(caller, this.region),
      );
    });
  }
}

/** Every key's object, each created where the first call for it comes from, or in the region `hint` names. */
export class Placement {
  readonly objects = new Map<string, KeyObject>();

  constructor(
    private readonly clock: SimClock,
    private readonly network: Network,
    private readonly model: ObjectModel,
    private readonly hint?: Region,
  ) {}

  /** The stub of `name`'s object for a worker in `caller`; without a hint, the first call for a name places its object there. */
  stub(name: string, caller: Region): KeyLimiter {
    let object = this.objects.get(name);
    if (!object) this.objects.set(name, (object = new KeyObject(this.hint ?? caller, this.clock, this.network, this.model)));
    return object.stubFrom(caller);
  }
}
