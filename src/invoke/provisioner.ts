import type { Logger } from 'pino';
import type { FunctionConfig, VersionRecord } from '../core/function.js';
import type { InstanceSpec } from '../core/sandbox.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { Scheduler } from '../scheduler/instance-pool.js';

/**
 * Applies the capacity settings of each function's latest version to the scheduler: its reserved
 * concurrency, and its provisioned instances (`minInstances`, started ahead of the first call). Runs at
 * start for every function and after every change to one.
 */
export class Provisioner {
  constructor(
    private readonly store: Store,
    private readonly scheduler: Scheduler,
    private readonly specOf: (version: VersionRecord) => InstanceSpec,
    private readonly logger: Logger,
  ) {}

  /**
   * Refuses a reservation the node cannot honour: reservations together may take the node's total
   * concurrency except what stays unreserved for everyone else (as Lambda keeps 100 of 1000).
   */
  validate(functionName: string, config: FunctionConfig): void {
    const reserved = config.reservedConcurrency ?? 0;
    if (reserved === 0) return;
    const { capacity } = this.scheduler;
    const keepUnreserved = Math.min(100, Math.ceil(capacity.totalConcurrency / 10));
    const available = capacity.totalConcurrency - keepUnreserved - capacity.reservedByOthers(functionName);
    if (reserved > available) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `reservedConcurrency ${reserved} is more than this node can reserve (${Math.max(0, available)} of ${capacity.totalConcurrency}; ${keepUnreserved} stay unreserved)`,
      );
    }
  }

  /** Loads every function's settings (at server start). */
  async loadAll(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.store.listFunctions({ limit: 500, cursor });
      for (const fn of page.items) {
        const latest = await this.store.getVersion(fn.name, fn.latestVersion);
        if (latest !== undefined) this.apply(latest);
      }
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
  }

  /** Re-reads one function after a change (deleted: its capacity settings and provisioned instances go). */
  refresh(functionName: string): void {
    void (async () => {
      const fn = await this.store.getFunction(functionName);
      if (fn === undefined) {
        this.scheduler.forget(functionName);
        return;
      }
      const latest = await this.store.getVersion(functionName, fn.latestVersion);
      if (latest !== undefined) this.apply(latest);
    })().catch((error: unknown) =>
      this.logger.error({ err: error, functionName }, 'applying capacity settings failed'),
    );
  }

  private apply(latest: VersionRecord): void {
    this.scheduler.capacity.setReservation(latest.functionName, latest.config.reservedConcurrency);
    let spec: InstanceSpec;
    try {
      spec = this.specOf(latest);
    } catch (error) {
      // A secret that does not decrypt: every call fails with that error; nothing to keep warm.
      this.logger.error({ err: error, functionName: latest.functionName }, 'cannot provision instances');
      return;
    }
    this.scheduler.provision(spec, latest.config.minInstances ?? 0);
  }
}
