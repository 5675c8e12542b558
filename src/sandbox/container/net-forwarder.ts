import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StratoError } from '../../core/strato-error.js';
import { socatPath } from '../process/runtime-forwarder.js';

const unsharePath = '/usr/bin/unshare';
/** Port 9001 in /proc/net/tcp is 2329; 0A is LISTEN. */
const listening = /:2329 00000000:0000 0A/;
const readyTimeoutMs = 5_000;

/**
 * The network a container gets: a new network namespace with only loopback, in which socat, on the host
 * side (root, host mount namespace, so it can reach the endpoint's Unix socket), listens on Lambda's
 * 127.0.0.1:9001 and forwards each connection to the instance's Runtime API socket. The container joins this
 * namespace (`/proc/<pid>/ns/net`): 127.0.0.1:9001 is the only thing it can reach. Measured here: ~8 ms in
 * a shell loop, ~20 ms of a cold start from Node, hence the {@link ForwarderPool}.
 */
export class NetForwarder {
  private hasExited = false;
  private readiness: Promise<void> | undefined;

  private constructor(
    /** The unshare → sh → socat process (one pid: each execs the next). */
    readonly pid: number,
    /** The Unix socket each connection is forwarded to (it need not exist until a connection arrives). */
    readonly socketPath: string,
    private readonly exited: Promise<void>,
    private readonly killProcess: () => void,
    private readonly stderr: () => string,
  ) {
    void exited.then(() => (this.hasExited = true));
  }

  /** The namespace a container joins. */
  get netnsPath(): string {
    return `/proc/${this.pid}/ns/net`;
  }

  /** True once the forwarder process is gone (killed, or failed to start). */
  get gone(): boolean {
    return this.hasExited;
  }

  /** Spawns the forwarder for `socketPath`; {@link ready} says when it listens. */
  static spawn(socketPath: string, ipTool: string): NetForwarder {
    if (!/^[A-Za-z0-9_./-]+$/.test(socketPath)) {
      throw new StratoError('INTERNAL', `the runtime API socket path is not plain: ${socketPath}`);
    }
    const script = `${ipTool} link set lo up && exec ${socatPath} TCP-LISTEN:9001,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socketPath}`;
    const child = spawn(unsharePath, ['--net', '/bin/sh', '-c', script], {
      env: {},
      cwd: '/',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (child.pid === undefined)
      throw new StratoError('INTERNAL', 'could not start the runtime API forwarder');
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    return new NetForwarder(
      child.pid,
      socketPath,
      exited,
      () => child.kill('SIGKILL'),
      () => stderr.trim(),
    );
  }

  /** Resolves once socat listens on 127.0.0.1:9001 in the namespace; rejects if it exits or takes too long. */
  ready(): Promise<void> {
    this.readiness ??= this.untilListening();
    return this.readiness;
  }

  private async untilListening(): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs;
    const hostNamespace = await readlink('/proc/self/ns/net');
    for (;;) {
      // Until unshare has made its namespace, /proc/<pid>/net is the host's, where something else may listen
      // on 9001; after, it is the namespace the container will join.
      const namespace = await readlink(this.netnsPath).catch(() => hostNamespace);
      const table =
        namespace === hostNamespace
          ? ''
          : await readFile(`/proc/${this.pid}/net/tcp`, 'utf8').catch(() => '');
      if (listening.test(table) && !this.hasExited) return;
      if (this.hasExited) {
        const detail = this.stderr();
        throw new StratoError(
          'INTERNAL',
          `the runtime API forwarder exited before it listened${detail === '' ? '' : `: ${detail}`}`,
        );
      }
      if (Date.now() > deadline)
        throw new StratoError('INTERNAL', 'the runtime API forwarder did not listen in time');
      await sleep(1);
    }
  }

  /** Kills the forwarder (with it the namespace, once the container has left it) and removes its socket. */
  async stop(): Promise<void> {
    this.killProcess();
    await this.exited;
    await rm(this.socketPath, { force: true });
  }
}

/**
 * Forwarders started ahead of need (their network namespace made, loopback up, socat listening), so a cold
 * start does not wait for one. Each is used by one instance; the instance refills the pool once it has
 * started, so the refill does not compete with it for the CPU. Size 0 starts every forwarder on demand.
 */
export class ForwarderPool {
  private readonly idle: NetForwarder[] = [];
  private closed = false;

  constructor(
    private readonly size: number,
    /** Private (0700) directory of the sockets the forwarders connect to. */
    private readonly socketsDir: string,
    private readonly ipTool: string,
  ) {
    this.refill();
  }

  /** A forwarder for one instance: an idle one if the pool has one alive, else a new one. */
  take(): NetForwarder {
    for (let forwarder = this.idle.shift(); forwarder !== undefined; forwarder = this.idle.shift()) {
      if (!forwarder.gone) return forwarder;
    }
    return this.spawn();
  }

  /** Tops the pool up to its size (call after a start that took one). */
  refill(): void {
    while (!this.closed && this.idle.length < this.size) {
      const forwarder = this.spawn();
      // A pooled forwarder that fails is dropped at take (gone); nobody waits on it before.
      forwarder.ready().catch(() => undefined);
      this.idle.push(forwarder);
    }
  }

  /** Stops the idle forwarders; those taken belong to their instances. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((forwarder) => forwarder.stop()));
  }

  private spawn(): NetForwarder {
    return NetForwarder.spawn(join(this.socketsDir, `${randomBytes(8).toString('hex')}.sock`), this.ipTool);
  }
}
