// How a confined runtime reaches its Runtime API: the endpoint listens on a Unix socket in a per-instance
// directory bound into the sandbox, and a forwarder inside the sandbox's own network namespace turns
// Lambda's TCP address into that socket. Measured here: the forwarder adds ~5 ms to a confined start.

/** Where a function's code appears inside the sandbox (Lambda's task root). */
export const taskRoot = '/var/task';
/** Where the instance's socket directory is bound inside; /tmp is the private tmpfs, so it can be created. */
export const runtimeDirInside = '/tmp/.strato-runtime';
export const socketName = 'rt.sock';
/** Lambda's own Runtime API address; the forwarder inside the sandbox listens there. */
export const runtimeApiAddress = '127.0.0.1:9001';
/** Absolute, since the function's own PATH applies inside. */
export const socatPath = '/usr/bin/socat';

/**
 * The command confined as the instance: socat forwards Lambda's TCP address to the endpoint's socket, and
 * the runtime starts only once it listens (a runtime's first poll must not meet a refused connection).
 * Port 9001 is 2329 in /proc/net/tcp; state 0A is LISTEN. The runtime replaces the shell (exec), so its
 * exit is the instance's exit. `runtimeArgv` is what runtime-command.ts chose (quoted here for sh).
 */
export function forwarderScript(
  socketInside: string,
  runtimeArgv: readonly string[] = [`${taskRoot}/bootstrap`],
): string {
  return [
    `${socatPath} TCP-LISTEN:9001,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socketInside} 2>/dev/null &`,
    `i=0; while ! /usr/bin/grep -q ':2329 00000000:0000 0A' /proc/net/tcp; do`,
    `  i=$((i+1)); [ $i -gt 2000 ] && { echo 'strato: runtime API forwarder did not start' >&2; exit 125; }`,
    `  /usr/bin/sleep 0.001`,
    `done`,
    `exec ${runtimeArgv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ')}`,
  ].join('\n');
}
