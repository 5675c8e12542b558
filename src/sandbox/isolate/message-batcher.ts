/**
 * Coalesces IPC messages produced in the same tick into one write. Under load many invocations finish
 * in one tick of the host (and start in one tick of the gateway); one write and one wake-up per batch
 * instead of per message saves a syscall pair per invocation on each side.
 */
export class MessageBatcher<M> {
  private pending: M[] = [];
  private scheduled = false;

  constructor(private readonly write: (messages: M[]) => void) {}

  send(message: M): void {
    this.pending.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    this.write(messages);
  };
}
