import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { GatewayToHost, HostToGateway } from './host-protocol.js';
import { MessageBatcher } from './message-batcher.js';

/** Signs in a dying host's stderr that V8 aborted on a heap out-of-memory. */
const HEAP_OOM_MARKERS = [
  /is_heap_oom = 1/,
  /heap out of memory/i,
  /Fatal process out of memory/i,
  /CALL_AND_RETRY_LAST/,
];
const STDERR_TAIL_BYTES = 16 * 1024;

export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** V8 aborted on an out-of-memory inside an isolate. */
  heapOutOfMemory: boolean;
  stderrTail: string;
}

export interface HostProcessEvents {
  onMessage(message: HostToGateway): void;
  onExit(exit: HostExit): void;
}

/** One isolate host child process: spawn, message transport, crash detection. */
export class IsolateHostProcess {
  private child: ChildProcess | undefined;
  private stderrTail = '';
  private readyPromise: Promise<void> | undefined;
  private stopping = false;
  private readonly batcher = new MessageBatcher<GatewayToHost>((messages) => {
    if (this.child?.connected === true) this.child.send(messages);
  });

  constructor(
    readonly index: number,
    private readonly configure: Extract<GatewayToHost, { t: 'configure' }>,
    private readonly events: HostProcessEvents,
    private readonly logger: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves once the host has compiled the guest runtime and can start instances. */
  ready(): Promise<void> {
    this.readyPromise ??= this.spawn();
    return this.readyPromise;
  }

  send(message: GatewayToHost): void {
    const child = this.child;
    if (child === undefined || !child.connected) throw new Error(`isolate host ${this.index} is not running`);
    this.batcher.send(message);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  private spawn(): Promise<void> {
    const file = fileURLToPath(import.meta.url);
    const extension = path.extname(file);
    const entry = path.join(path.dirname(file), 'host', `isolate-host-main${extension}`);
    // Running from TypeScript sources (tests, dev): let tsx load the host too.
    const loader = extension === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];
    const child = fork(entry, [], {
      // --noexpose-wasm: WebAssembly memory lives outside the V8 heap, so isolated-vm's memory limit does
      // not count it (a 128 MB function filled 2 GB of it, test/security/escape-isolate.test.ts), and
      // its async compile never settles in an isolate. V8 flags are per process: this hides it from every guest.
      execArgv: ['--no-node-snapshot', '--noexpose-wasm', ...loader],
      // The host needs nothing from our environment, and function code must never see it.
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      child.on('message', (messages: HostToGateway[]) => {
        for (const message of messages) {
          if (message.t === 'ready') {
            ready = true;
            resolve();
            continue;
          }
          this.events.onMessage(message);
        }
      });
      child.on('error', (error) => this.logger.error({ err: error, host: this.index }, 'isolate host error'));
      child.once('exit', (code, signal) => {
        this.readyPromise = undefined;
        this.child = undefined;
        const exit: HostExit = {
          code,
          signal,
          heapOutOfMemory: HEAP_OOM_MARKERS.some((marker) => marker.test(this.stderrTail)),
          stderrTail: this.stderrTail,
        };
        if (!ready)
          reject(
            new Error(`isolate host ${this.index} exited during start: ${this.stderrTail.slice(-2000)}`),
          );
        if (this.stopping) return;
        this.logger.warn(
          { host: this.index, code, signal, heapOutOfMemory: exit.heapOutOfMemory },
          'isolate host exited',
        );
        this.events.onExit(exit);
      });
      child.send([this.configure] satisfies GatewayToHost[]);
    });
  }
}
