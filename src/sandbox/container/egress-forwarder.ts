import { spawn } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { StratoError } from '../../core/strato-error.js';
import type { EgressPolicy } from '../egress/egress-policy.js';
import { EgressProxy, egressProxyAddress, type EgressProxyOptions } from '../egress/egress-proxy.js';
import { socatPath } from '../process/runtime-forwarder.js';

const nsenterPath = '/usr/bin/nsenter';
const readyTimeoutMs = 5_000;
const [, proxyPort = '9002'] = egressProxyAddress.split(':');
/** The proxy's port as /proc/net/tcp writes it (hex), in state 0A (LISTEN). */
const listening = new RegExp(
  `:${Number(proxyPort).toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`,
);

/** A container's way out when its function has egress patterns: its proxy and the forwarder to it. */
export interface ContainerEgress {
  /** Stops the forwarder, then the proxy (cutting every tunnel), and removes the proxy's socket. */
  stop(): Promise<void>;
}

/**
 * Starts a container's egress: the instance's {@link EgressProxy} on `socketPath` (host side), and socat
 * entered into the Runtime API forwarder's network namespace (`netnsPath`, which the container joins), where
 * it listens on {@link egressProxyAddress} and forwards each connection to the proxy's socket. Like the
 * Runtime API forwarder it runs as root on the host's mount namespace, so it reaches the socket, and sees
 * nothing of the network but that namespace's loopback. Only for functions with egress patterns: without, the
 * namespace has the Runtime API and nothing else.
 */
export async function startContainerEgress(
  netnsPath: string,
  socketPath: string,
  policy: EgressPolicy,
  onRefused?: EgressProxyOptions['onRefused'],
): Promise<ContainerEgress> {
  if (!/^[A-Za-z0-9_./-]+$/.test(socketPath) || !/^\/proc\/\d+\/ns\/net$/.test(netnsPath)) {
    throw new StratoError('INTERNAL', `the egress proxy's paths are not plain: ${socketPath} ${netnsPath}`);
  }
  const proxy = await EgressProxy.listen({
    socketPath,
    policy,
    runtimeApiAddress: '127.0.0.1:9001',
    ...(onRefused === undefined ? {} : { onRefused }),
  });
  const child = spawn(
    nsenterPath,
    [
      `--net=${netnsPath}`,
      '--',
      socatPath,
      `TCP-LISTEN:${proxyPort},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${socketPath}`,
    ],
    { env: {}, cwd: '/', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  }).then(() => {
    gone = true;
  });
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    await proxy.close();
  };
  try {
    // nsenter execs socat (one pid), whose /proc/<pid>/net is the namespace's once it has entered it; before,
    // it is the host's, where something else may listen on the port.
    const namespace = await readlink(netnsPath);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (gone) {
        throw new StratoError(
          'INTERNAL',
          `the egress proxy forwarder exited before it listened${stderr === '' ? '' : `: ${stderr.trim()}`}`,
        );
      }
      const entered = await readlink(`/proc/${child.pid}/ns/net`).catch(() => '');
      const table =
        entered === namespace ? await readFile(`/proc/${child.pid}/net/tcp`, 'utf8').catch(() => '') : '';
      if (listening.test(table)) break;
      if (Date.now() > deadline)
        throw new StratoError('INTERNAL', 'the egress proxy forwarder did not listen in time');
      await sleep(1);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}
