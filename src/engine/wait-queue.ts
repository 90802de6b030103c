/**
 * The requests one isolate holds per key while they wait to be forwarded
 * (rules with `smooth`). A place is taken when the key's object answers
 * "admit after a wait" and is held until that wait ends, by the request
 * clock: a place frees itself even when the request holding it is
 * cancelled mid-wait, so no place is ever lost. So a key never has more
 * than its bound waiting in one isolate. Bounded in keys; a key whose
 * waits have all ended takes no room.
 *
 * @example
 * const queue = new WaitQueue();
 * queue.enter('ip=198.51.100.7', 10, now, now + 300); // true: held until now + 300
 * queue.size('ip=198.51.100.7', now + 100); // 1
 * queue.size('ip=198.51.100.7', now + 300); // 0
 */
export class WaitQueue {
  /** Per key, when each held request's wait ends. */
  private readonly waits = new Map<string, number[]>();

  constructor(private readonly maxKeys = 10_000) {}

  /** How many requests wait under `key` at `now`. */
  size(key: string, now: number): number {
    const ends = this.waits.get(key);
    if (!ends) return 0;
    const left = ends.filter((end) => end > now);
    if (left.length === 0) this.waits.delete(key);
    else if (left.length < ends.length) this.waits.set(key, left);
    return left.length;
  }

  /** Whether a request may wait under `key` at `now`, at most `max` waiting: fewer wait than that. */
  hasRoom(key: string, max: number, now: number): boolean {
    return this.size(key, now) < max;
  }

  /** Takes a place under `key` until `until` when fewer than `max` wait at `now`; `false`, taking nothing, when the queue is full. */
  enter(key: string, max: number, now: number, until: number): boolean {
    const size = this.size(key, now);
    if (size >= max) return false;
    if (size === 0) {
      // The key that has waited longest goes first; its requests are most likely through by now.
      if (this.waits.size >= this.maxKeys) this.waits.delete(this.waits.keys().next().value!);
      this.waits.set(key, [until]);
    } else this.waits.get(key)!.push(until);
    return true;
  }

  /** Gives back a place taken under `key` until `until` (the request was refused after all). */
  leave(key: string, until: number): void {
    const ends = this.waits.get(key);
    const at = ends?.indexOf(until) ?? -1;
    if (!ends || at < 0) return;
    ends.splice(at, 1);
    if (ends.length === 0) this.waits.delete(key);
  }
}
