/** One function's invocations in flight on this node. */
export interface InFlightEntry {
  count: number;
}

/**
 * Invocations in flight per function on this node: one integer per function, so the invoke path pays one
 * map lookup to know its concurrency. Each record carries the count at its start, and the hourly usage
 * rollup keeps the largest as the hour's peak (concurrency only rises at a start).
 *
 * Entries stay when their count is back at 0: deleting and re-adding them cost ~4x the lookup (measured
 * here), and there is one per function invoked on this node, a few dozen bytes each.
 */
export class InFlightCounter {
  private readonly entries = new Map<string, InFlightEntry>();

  /** Counts one more in flight; `entry.count` is then how many are, this one included. */
  enter(functionName: string): InFlightEntry {
    let entry = this.entries.get(functionName);
    if (entry === undefined) {
      entry = { count: 0 };
      this.entries.set(functionName, entry);
    }
    entry.count++;
    return entry;
  }

  leave(entry: InFlightEntry): void {
    entry.count--;
  }
}
