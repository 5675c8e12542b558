import { spawn } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
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
 * namespace (`/proc/<pid>/ns/net`): 127.0.0.1:9001 is the only thing it can reach.
 */
export class NetForwarder {
  private constructor(
    /** The unshare → sh → socat process (one pid: each execs the next). */
    readonly pid: number,
    private readonly exitedPromise: Promise<void>,
    private readonly killProcess: () => void,
    private readonly stderr: () => string,
  ) {}

  /** The namespace a container joins. */
  get netnsPath(): string {
    return `/proc/${this.pid}/ns/net`;
  }

  /**
   * Spawns the forwarder for `socketPath` (which need not exist yet: socat connects per accepted connection).
   * Resolves at once; {@link ready} waits until it listens.
   */
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
      exited,
      () => child.kill('SIGKILL'),
      () => stderr.trim(),
    );
  }

  /** Resolves once socat listens on 127.0.0.1:9001 in the namespace; throws if it exits or takes too long. */
  async ready(): Promise<void> {
    let exited = false;
    void this.exitedPromise.then(() => (exited = true));
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
      if (listening.test(table) && !exited) return;
      if (exited) {
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

  /** Kills the forwarder (with it the namespace, once the container has left it) and waits for its exit. */
  async stop(): Promise<void> {
    this.killProcess();
    await this.exitedPromise;
  }
}
