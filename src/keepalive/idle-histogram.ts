/**
 * A function's idle times (end of one invocation to the start of the next) in fixed-width bins, as the
 * hybrid policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020, section 4.2) keeps them:
 * 1-minute bins over a 4-hour range. Memory is bounded by the bin count whatever the traffic: idle times
 * past the range are only counted, never stored.
 */
export interface IdleHistogramOptions {
  /** Width of one bin. @default 60000 (1 min) */
  binMs?: number;
  /** Number of bins; the range is `binMs * binCount`. @default 240 (4 h) */
  binCount?: number;
}

export class IdleHistogram {
  readonly binMs: number;
  readonly binCount: number;
  private readonly counts: Float64Array;
  private inRange = 0;
  private beyondRange = 0;
  // Kept as samples arrive so the CV costs O(1): the policy asks for it after every invocation.
  private sumOfSquares = 0;

  constructor(options: IdleHistogramOptions = {}) {
    this.binMs = options.binMs ?? 60_000;
    this.binCount = options.binCount ?? 240;
    if (!(this.binMs > 0) || !Number.isInteger(this.binCount) || this.binCount < 1) {
      throw new RangeError(`invalid histogram shape: binMs=${this.binMs} binCount=${this.binCount}`);
    }
    this.counts = new Float64Array(this.binCount);
  }

  /** The longest idle time a bin holds; longer ones are out of range. */
  get rangeMs(): number {
    return this.binMs * this.binCount;
  }

  /** Samples in range. */
  get count(): number {
    return this.inRange;
  }

  /** Samples longer than the range. */
  get outOfRange(): number {
    return this.beyondRange;
  }

  /** All samples, in range or not. */
  get total(): number {
    return this.inRange + this.beyondRange;
  }

  record(idleMs: number): void {
    // A negative gap means overlapping invocations: the function was never idle.
    const bin = Math.floor(Math.max(0, idleMs) / this.binMs);
    if (bin >= this.binCount) {
      this.beyondRange++;
      return;
    }
    const before = this.counts[bin]!;
    this.counts[bin] = before + 1;
    this.sumOfSquares += 2 * before + 1;
    this.inRange++;
  }

  /** The count in bin `index` (idle times in `[index * binMs, (index + 1) * binMs)`). */
  binCountAt(index: number): number {
    return this.counts[index] ?? 0;
  }

  /**
   * The bin holding the `p`-th percentile (0 < p <= 100) of the in-range samples: the first bin whose
   * cumulative count reaches `p`% of them. `undefined` when the histogram is empty.
   */
  percentileBin(p: number): number | undefined {
    if (this.inRange === 0) return undefined;
    const target = (Math.min(100, Math.max(0, p)) / 100) * this.inRange;
    let cumulative = 0;
    for (let bin = 0; bin < this.binCount; bin++) {
      cumulative += this.counts[bin]!;
      // The small tolerance keeps p=100 from missing the last bin to rounding.
      if (cumulative >= target - 1e-9 && cumulative > 0) return bin;
    }
    return this.binCount - 1;
  }

  /**
   * Coefficient of variation (std / mean) of the bin counts. Low when idle times spread evenly over the
   * range (nothing to predict); high when they cluster in a few bins. 0 when empty.
   */
  binCountCv(): number {
    if (this.inRange === 0) return 0;
    const mean = this.inRange / this.binCount;
    // Var = E[c^2] - mean^2; clamped because rounding can push a zero variance just below 0.
    const variance = Math.max(0, this.sumOfSquares / this.binCount - mean * mean);
    return Math.sqrt(variance) / mean;
  }
}
