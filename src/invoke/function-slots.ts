/**
 * Counting semaphores keyed by function: how many of a function's async invocations may run at once on
 * this node. Waiters are served in arrival order.
 */
export class FunctionSlots {
  private readonly slots = new Map<string, { running: number; waiting: Array<() => void> }>();

  /** Resolves with a release function once fewer than `limit` holders of `key` remain. */
  async acquire(key: string, limit: number): Promise<() => void> {
    let entry = this.slots.get(key);
    if (entry === undefined) {
      entry = { running: 0, waiting: [] };
      this.slots.set(key, entry);
    }
    const slot = entry;
    if (slot.running >= limit) await new Promise<void>((resolve) => slot.waiting.push(resolve));
    slot.running += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slot.running -= 1;
      const next = slot.waiting.shift();
      if (next !== undefined) next();
      else if (slot.running === 0) this.slots.delete(key);
    };
  }

  running(key: string): number {
    return this.slots.get(key)?.running ?? 0;
  }
}
