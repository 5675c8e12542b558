/**
 * Coalesces IPC messages produced in the same event-loop turn into one write. Under load many invocations finish
 * in one tick of the host (and start in one tick of the gateway); one write and one wake-up per batch
 * instead of per message saves a syscall pair per invocation on each side.
 */
const MAX_BATCH = 8;

export class MessageBatcher<M> {
  private pending: M[] = [];
  private scheduled = false;

  constructor(private readonly write: (messages: M[]) => void) {}

  send(message: M): void {
    this.pending.push(message);
    // A full batch goes at once: waiting for the whole I/O phase would leave the other process idle
    // (a lock-step ping-pong of big batches) instead of working on the first messages.
    if (this.pending.length >= MAX_BATCH) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not nextTick: it runs after the whole I/O phase, so requests that arrived on
    // different connections in one turn of the event loop share one write.
    setImmediate(this.onImmediate);
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    this.write(messages);
  }

  private readonly onImmediate = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
