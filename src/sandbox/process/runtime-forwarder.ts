// How a confined runtime reaches its Runtime API: the endpoint listens on a Unix socket in a per-instance
// directory bound into the sandbox, and a forwarder inside the sandbox's own network namespace turns
// Lambda's TCP address into that socket. Measured here: the forwarder adds ~5 ms to a confined start.
// A function with egress patterns gets a second forwarder, to its egress proxy (sandbox/egress/).

import { egressProxyAddress } from '../egress/egress-proxy.js';

/** Where a function's code appears inside the sandbox (Lambda's task root). */
export const taskRoot = '/var/task';
/** Where the instance's socket directory is bound inside; /tmp is the private tmpfs, so it can be created. */
export const runtimeDirInside = '/tmp/.strato-runtime';
export const socketName = 'rt.sock';
/** The instance's egress proxy socket beside it, only for a function with egress patterns. */
export const egressSocketName = 'egress.sock';
/** Lambda's own Runtime API address; the forwarder inside the sandbox listens there. */
export const runtimeApiAddress = '127.0.0.1:9001';
/** Absolute, since the function's own PATH applies inside. */
export const socatPath = '/usr/bin/socat';

/**
 * The command confined as the instance: socat forwards Lambda's TCP address to the endpoint's socket (and,
 * with `egressSocketInside`, the egress proxy's address to the proxy's socket), and the runtime starts only
 * once they listen (a runtime's first poll must not meet a refused connection). Ports are hex in
 * /proc/net/tcp (9001 is 2329); state 0A is LISTEN. The runtime replaces the shell (exec), so its exit is the
 * instance's exit. `runtimeArgv` is what runtime-command.ts chose (quoted here for sh).
 */
export function forwarderScript(
  socketInside: string,
  runtimeArgv: readonly string[] = [`${taskRoot}/bootstrap`],
  egressSocketInside?: string,
): string {
  const forwards: Array<[string, string]> = [[runtimeApiAddress, socketInside]];
  if (egressSocketInside !== undefined) forwards.push([egressProxyAddress, egressSocketInside]);
  return [
    ...forwards.flatMap(([address, socket]) => {
      const port = Number(address.split(':')[1]);
      const hex = port.toString(16).toUpperCase().padStart(4, '0');
      return [
        `${socatPath} TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socket} 2>/dev/null &`,
        `i=0; while ! /usr/bin/grep -q ':${hex} 00000000:0000 0A' /proc/net/tcp; do`,
        `  i=$((i+1)); [ $i -gt 2000 ] && { echo 'strato: the forwarder of ${address} did not start' >&2; exit 125; }`,
        `  /usr/bin/sleep 0.001`,
        `done`,
      ];
    }),
    `exec ${runtimeArgv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ')}`,
  ].join('\n');
}
