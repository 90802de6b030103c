/**
 * Folds repeated log lines: refusals answered from the deny cache (or a
 * lease) can arrive thousands a second from one client, and a log line each
 * would cost more than refusing them. The first of a key in each period is
 * written, carrying how many it stands for; the rest are counted into the
 * next. Decision counters still count every refusal.
 */
export class RepeatFolder {
  private readonly keys = new Map<string, { period: number; folded: number }>();

  constructor(
    private readonly periodMs = 1_000,
    private readonly maxEntries = 10_000,
  ) {}

  /** How many refusals a line written now stands for, or 0 when this one is folded into a later line. */
  fold(key: string, now: number): number {
    const period = Math.floor(now / this.periodMs);
    const entry = this.keys.get(key);
    if (!entry) {
      if (this.keys.size >= this.maxEntries) {
        const oldest = this.keys.keys().next().value;
        if (oldest !== undefined) this.keys.delete(oldest);
      }
      this.keys.set(key, { period, folded: 0 });
      return 1;
    }
    if (entry.period === period) {
      entry.folded++;
      return 0;
    }
    const count = entry.folded + 1;
    entry.period = period;
    entry.folded = 0;
    return count;
  }
}
