/**
 * Invocations in flight per function on this node: one integer per function with work running, so the
 * invoke path pays a map lookup to know its concurrency. Each record carries the count at its start,
 * and the hourly usage rollup keeps the largest as the hour's peak (concurrency only rises at a start).
 */
export class InFlightCounter {
  private readonly counts = new Map<string, number>();

  /** Counts one more in flight; returns how many are now, this one included. */
  enter(functionName: string): number {
    const count = (this.counts.get(functionName) ?? 0) + 1;
    this.counts.set(functionName, count);
    return count;
  }

  leave(functionName: string): void {
    const count = (this.counts.get(functionName) ?? 0) - 1;
    // Idle functions leave no entry behind: the map holds only functions with work running.
    if (count <= 0) this.counts.delete(functionName);
    else this.counts.set(functionName, count);
  }

  current(functionName: string): number {
    return this.counts.get(functionName) ?? 0;
  }
}
