import ivm from 'isolated-vm';
import type { GuestCompletionStatus, GuestPayloadKind, GuestResponseKind } from '../../../guest/protocol.js';
import type { GuestSettleFetch } from '../../../guest/host-bindings.js';
import { webHostBindings } from '../web-host-bindings.js';
import type { GuestRuntimeImage } from './guest-runtime-image.js';

const MIN_ISOLATE_MEMORY_MB = 8;

/** What a cell's host callbacks reach: the instance the cell was given to. */
export interface CellOwner {
  setTimer(id: number, delayMs: number): void;
  clearTimer(id: number): void;
  startFetch(id: number, method: unknown, url: unknown, headersJson: unknown, bodyBase64: unknown): void;
  abortFetch(id: number): void;
  complete(
    invocationId: string,
    status: GuestCompletionStatus,
    kind: GuestResponseKind,
    body: string,
    logsJson: string,
  ): void;
}

export type GuestInvoke = (
  invocationId: string,
  kind: GuestPayloadKind,
  payload: string,
  deadline: number,
  traceparent: string,
) => void;

export type { GuestSettleFetch };

/**
 * An isolate with the guest runtime already evaluated and no function in it yet (the survey's
 * pre-configured sandbox, "stem cell"): a function's instance only has to load its own code.
 */
export interface StemCell {
  isolate: ivm.Isolate;
  context: ivm.Context;
  memoryMb: number;
  loadRef: ivm.Reference<(configJson: string) => string>;
  invokeRef: ivm.Reference<GuestInvoke>;
  fireTimerRef: ivm.Reference<(id: number) => void>;
  settleFetchRef: ivm.Reference<GuestSettleFetch>;
  abandonRef: ivm.Reference<(invocationId: string) => void>;
  /** Set when the cell is handed to an instance; callbacks before that are ignored. */
  owner: CellOwner | undefined;
}

export function createStemCell(runtime: GuestRuntimeImage, memoryMb: number): StemCell {
  const isolate = runtime.newIsolate(Math.max(MIN_ISOLATE_MEMORY_MB, memoryMb));
  try {
    const context = isolate.createContextSync();
    // One object, mutated below: the callbacks read `owner` from this very object.
    const cell = { isolate, context, memoryMb, owner: undefined } as StemCell;
    runtime.install(isolate, context, [
      new ivm.Callback((id: number, delayMs: number) => cell.owner?.setTimer(id, delayMs)),
      new ivm.Callback((id: number) => cell.owner?.clearTimer(id)),
      new ivm.Callback(webHostBindings.randomBytes),
      new ivm.Callback(webHostBindings.parseUrl),
      new ivm.Callback(
        (
          invocationId: string,
          status: GuestCompletionStatus,
          kind: GuestResponseKind,
          body: string,
          logsJson: string,
        ) => cell.owner?.complete(invocationId, status, kind, body, logsJson),
      ),
      new ivm.Callback(
        (id: number, method: unknown, url: unknown, headersJson: unknown, bodyBase64: unknown) =>
          cell.owner?.startFetch(id, method, url, headersJson, bodyBase64),
      ),
      new ivm.Callback((id: number) => cell.owner?.abortFetch(id)),
    ]);
    const runtimeRef = context.global.getSync('__strato_runtime', { reference: true }) as ivm.Reference<
      Record<string, unknown>
    >;
    cell.loadRef = runtimeRef.getSync('load', { reference: true }) as StemCell['loadRef'];
    cell.invokeRef = runtimeRef.getSync('invoke', { reference: true }) as StemCell['invokeRef'];
    cell.fireTimerRef = runtimeRef.getSync('fireTimer', { reference: true }) as StemCell['fireTimerRef'];
    cell.settleFetchRef = runtimeRef.getSync('settleFetch', {
      reference: true,
    }) as StemCell['settleFetchRef'];
    cell.abandonRef = runtimeRef.getSync('abandon', { reference: true }) as StemCell['abandonRef'];
    runtimeRef.release();
    context.global.deleteSync('__strato_runtime');
    return cell;
  } catch (error) {
    if (!isolate.isDisposed) isolate.dispose();
    throw error;
  }
}

const MAX_SIZES = 4;

/**
 * A few stem cells per memory size (isolate memory limits are fixed at creation), refilled in the
 * background after one is taken. Sizes follow demand: the most recently requested ones are kept.
 */
export class StemCellPool {
  private readonly cells = new Map<number, StemCell[]>();
  private readonly sizes: number[] = [];
  private refillScheduled = false;

  /** @param cellsPerSize cells kept per memory size; 0 keeps none (every isolate is made on demand). */
  constructor(
    private readonly runtime: GuestRuntimeImage,
    private readonly cellsPerSize = 2,
    initialSizes: number[] = [128],
  ) {
    for (const size of initialSizes) this.want(size);
    this.scheduleRefill();
  }

  /**
   * A ready cell of this size, or undefined (the caller creates one the slow way). With `refill` false the
   * caller calls {@link refill} itself once its first result is out (an asynchronous first call would
   * otherwise wait for the ~1.5 ms refill on the host's main thread).
   */
  take(memoryMb: number, refill = true): StemCell | undefined {
    this.want(memoryMb);
    const cell = this.cells.get(memoryMb)?.pop();
    if (refill) this.scheduleRefill();
    return cell;
  }

  /** Makes up for cells taken with `refill` false. */
  refill(): void {
    this.scheduleRefill();
  }

  dispose(): void {
    for (const cells of this.cells.values()) for (const cell of cells) cell.isolate.dispose();
    this.cells.clear();
  }

  private want(memoryMb: number): void {
    const index = this.sizes.indexOf(memoryMb);
    if (index !== -1) this.sizes.splice(index, 1);
    this.sizes.unshift(memoryMb);
    for (const dropped of this.sizes.splice(MAX_SIZES)) {
      for (const cell of this.cells.get(dropped) ?? []) cell.isolate.dispose();
      this.cells.delete(dropped);
    }
  }

  /**
   * One cell per turn of the event loop, on a timer: timers run after the current turn's setImmediate
   * work, so the results of the invocation that took a cell are sent before a new cell (~1.5 ms) is made.
   */
  private scheduleRefill(): void {
    if (this.refillScheduled || this.cellsPerSize === 0) return;
    this.refillScheduled = true;
    setTimeout(() => {
      this.refillScheduled = false;
      const size = this.sizes.find(
        (candidate) => (this.cells.get(candidate)?.length ?? 0) < this.cellsPerSize,
      );
      if (size === undefined) return;
      const cells = this.cells.get(size) ?? [];
      this.cells.set(size, cells);
      try {
        cells.push(createStemCell(this.runtime, size));
      } catch {
        return; // creation failed (memory pressure): try again on the next take
      }
      this.scheduleRefill();
    }, 0);
  }
}
