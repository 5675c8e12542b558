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

/** Makes a stem cell on the spot: for a take that found the pool empty (the caller waits for it anyway). */
export function createStemCell(runtime: GuestRuntimeImage, memoryMb: number): StemCell {
  const steps = stemCellSteps(runtime, memoryMb);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Makes a stem cell in steps of at most ~1 ms of the host's event loop each (the isolate ~1.0 ms, its
 * context ~0.3 ms, the runtime's evaluation ~0.5 ms, measured here), yielding between them, so that the pool
 * can let the invocations that arrive meanwhile go first. Returning early (`return()`) disposes the isolate.
 */
function* stemCellSteps(runtime: GuestRuntimeImage, memoryMb: number): Generator<void, StemCell, void> {
  const isolate = runtime.newIsolate(Math.max(MIN_ISOLATE_MEMORY_MB, memoryMb));
  let made = false;
  try {
    yield;
    const context = isolate.createContextSync();
    // One object, mutated below: the callbacks read `owner` from this very object.
    const cell = { isolate, context, memoryMb, owner: undefined } as StemCell;
    yield;
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
    yield;
    const runtimeRef = context.global.getSync('__strato_runtime', { reference: true }) as ivm.Reference<
      Record<string, unknown>
    >;
    const ref = (name: string) => runtimeRef.getSync(name, { reference: true }) as ivm.Reference<never>;
    cell.loadRef = ref('load');
    cell.invokeRef = ref('invoke');
    cell.fireTimerRef = ref('fireTimer');
    cell.settleFetchRef = ref('settleFetch');
    cell.abandonRef = ref('abandon');
    runtimeRef.release();
    context.global.deleteSync('__strato_runtime');
    made = true;
    return cell;
  } finally {
    if (!made && !isolate.isDisposed) isolate.dispose();
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
  private disposed = false;
  /** The cell being made, and for which size. */
  private building: { memoryMb: number; steps: Generator<void, StemCell, void> } | undefined;

  /** @param cellsPerSize cells kept per memory size; 0 keeps none (every isolate is made on demand). */
  constructor(
    private readonly runtime: GuestRuntimeImage,
    private readonly cellsPerSize = 2,
    initialSizes: number[] = [128],
    /** Called before each step of making a cell: the host sends what it has batched, so it goes first. */
    private readonly beforeStep: () => void = () => undefined,
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
    this.disposed = true;
    this.building?.steps.return(undefined as never);
    this.building = undefined;
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
   * Refills step by step. The first step runs on a timer (timers run after the current turn's setImmediate
   * work, so the results of the invocation that took a cell are sent first); later ones on setImmediate, so
   * IPC is read between two steps, and each step first lets out what the host has to send (`beforeStep`).
   * An invocation that arrives while a cell is being made then waits for one step (~1 ms at most), not for
   * the whole cell (~2 ms). (Making the cell's context and runtime on isolated-vm's thread pool instead was
   * slower end to end: each step's hop to a pool thread and back woke the event loop again; one step per
   * timer made refills too slow for back-to-back cold starts.)
   */
  private scheduleRefill(): void {
    if (this.refillScheduled || this.cellsPerSize === 0 || this.disposed) return;
    this.refillScheduled = true;
    if (this.building === undefined) setTimeout(this.refillStep, 0);
    else setImmediate(this.refillStep);
  }

  private readonly refillStep = (): void => {
    this.refillScheduled = false;
    if (this.disposed) return;
    if (this.building === undefined) {
      const memoryMb = this.sizes.find(
        (candidate) => (this.cells.get(candidate)?.length ?? 0) < this.cellsPerSize,
      );
      if (memoryMb === undefined) return;
      this.building = { memoryMb, steps: stemCellSteps(this.runtime, memoryMb) };
    }
    const { memoryMb, steps } = this.building;
    this.beforeStep();
    let step: IteratorResult<void, StemCell>;
    try {
      step = steps.next();
    } catch {
      this.building = undefined;
      return; // creation failed (memory pressure): try again on the next take
    }
    if (step.done === true) {
      this.building = undefined;
      // Its size may have dropped out of the pool while the cell was made.
      if (this.sizes.includes(memoryMb)) {
        const cells = this.cells.get(memoryMb) ?? [];
        this.cells.set(memoryMb, cells);
        cells.push(step.value);
      } else step.value.isolate.dispose();
    }
    this.scheduleRefill();
  };
}
