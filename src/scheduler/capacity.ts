/**
 * The node's capacity, shared by all functions: concurrent executions (Lambda's account concurrency, with
 * reserved concurrency carved out of it) and memory for instances.
 *
 * Concurrency: a function with `reservedConcurrency` r can always run r executions and never more; every
 * other function draws from the unreserved rest, so a noisy neighbour cannot take a reserved function's
 * capacity.
 *
 * Memory: a busy or starting instance counts its whole memory limit (it may use all of it); an idle one
 * counts its tier's idle footprint (an idle isolate holds ~1-2 MB, not its heap limit; an idle process
 * holds what it allocated, so its limit). A placement that does not fit first evicts idle instances.
 */
export class Capacity {
  private readonly reservations = new Map<string, number>();
  private reservedTotal = 0;
  private unreservedBusy = 0;
  private memoryUsedMb = 0;

  constructor(
    /** Concurrent executions the node runs at once, over all functions. */
    readonly totalConcurrency: number,
    /** Memory the node gives to instances, in MB. */
    readonly memoryBudgetMb: number,
  ) {}

  /** Sets (or with 0/undefined removes) a function's reservation. */
  setReservation(functionName: string, reserved: number | undefined): void {
    const before = this.reservations.get(functionName) ?? 0;
    const after = reserved ?? 0;
    if (after > 0) this.reservations.set(functionName, after);
    else this.reservations.delete(functionName);
    this.reservedTotal += after - before;
  }

  reservationOf(functionName: string): number | undefined {
    return this.reservations.get(functionName);
  }

  /** What reservations leave for all other functions. */
  get unreservedPool(): number {
    return Math.max(0, this.totalConcurrency - this.reservedTotal);
  }

  /** Reservations other functions hold, for checking a new one against the total. */
  reservedByOthers(functionName: string): number {
    return this.reservedTotal - (this.reservations.get(functionName) ?? 0);
  }

  /** Can one more execution of this function start? (Its own cap is the pool's business.) */
  canRun(functionName: string): boolean {
    if (this.reservations.has(functionName)) return true;
    return this.unreservedBusy < this.unreservedPool;
  }

  startRun(functionName: string): void {
    if (!this.reservations.has(functionName)) this.unreservedBusy++;
  }

  endRun(functionName: string, wasReserved: boolean): void {
    if (!wasReserved) this.unreservedBusy--;
  }

  get memoryUsed(): number {
    return this.memoryUsedMb;
  }

  fits(mb: number): boolean {
    return this.memoryUsedMb + mb <= this.memoryBudgetMb;
  }

  /** Adjusts the memory an instance is counted for (placement, busy ↔ idle, removal). */
  account(deltaMb: number): void {
    this.memoryUsedMb += deltaMb;
  }
}
