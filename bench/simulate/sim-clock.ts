import type { Clock } from '../../src/engine/clock';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/**
 * A discrete-event clock: time moves only from one scheduled event to the
 * next. It is the engine's {@link Clock} (timeouts, lease waits) and the
 * network's: every trip and every request arrival is a timer on it. After
 * the events of one instant run, `settle` lets every promise continuation
 * they started run before time moves on, so the engine's code sees the time
 * of the event that resumed it.
 */
export class SimClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly heap: Timer[] = [];

  constructor(start: number) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): Timer {
    return this.at(this.time + Math.max(0, ms), run);
  }

  clearTimeout(handle: unknown): void {
    if (handle) (handle as Timer).cancelled = true;
  }

  /** Runs `run` at `time` (or now, if that has passed). */
  at(time: number, run: () => void): Timer {
    const timer = { at: Math.max(time, this.time), seq: this.seq++, run, cancelled: false };
    this.push(timer);
    return timer;
  }

  /** Runs every event up to `end`, in time order (ties in the order they were scheduled), then stands at `end`. */
  async runUntil(end: number, settle: () => Promise<void>): Promise<void> {
    while (this.heap.length > 0 && this.heap[0]!.at <= end) {
      const instant = this.heap[0]!.at;
      this.time = instant;
      while (this.heap.length > 0 && this.heap[0]!.at === instant) {
        const timer = this.pop();
        if (!timer.cancelled) timer.run();
      }
      await settle();
    }
    this.time = Math.max(this.time, end);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Timer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && earlier(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && earlier(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
