// The two scripts of a pooled sandbox: the setup it runs ahead of time (as root pid 1 of its namespaces), and
// the assignment the gateway later writes on its stdin, which it evaluates. Quoting goes through setup-script's
// q(); the only values not quoted are numbers and paths the tier itself chose.

import { confinementTools } from './host-capabilities.js';
import { runtimeApiAddress, socatPath, taskRoot } from './runtime-forwarder.js';
import { confinementLines, dropPrivileges, heldDirFd, q, type ConfinementPlan } from './setup-script.js';

/** Written on stdout by the last stage of a pooled sandbox's setup (the root shell, or the waiting Node). */
export const poolReadyMarker = 'strato-pool-ready';
/** The pipe between the root shell (writes, fd 4) and a waiting Node (reads, this fd). */
const assignmentFd = 5;
const [, apiPort] = runtimeApiAddress.split(':');

/** What the pooled setup does once it is confined; `node` pre-starts Strato's Node runtime client. */
export type PooledRuntime =
  { kind: 'exec' } | { kind: 'node'; argv: readonly string[]; env: Readonly<Record<string, string>> };

/**
 * The pooled setup: everything a fresh instance's setup does (confinementLines), then the forwarder started
 * unprivileged and listening, then for Node the runtime client started unprivileged and blocked on a pipe
 * only it and this shell hold; then it evaluates its stdin, where the assignment arrives. The code cache root
 * is held open on fd 9 (it lies under the hidden data dir), so the assignment can bind one entry of it.
 */
export function buildPoolScript(
  plan: Omit<ConfinementPlan, 'env' | 'command' | 'args' | 'cwd' | 'codeDir'>,
  socketInside: string,
  runtime: PooledRuntime,
): string {
  const drop = dropPrivileges(plan.uid, plan.gid);
  const lines = [
    ...confinementLines(plan),
    'cd /',
    // Nothing unprivileged may inherit the code cache root (9) or the shell's assignment pipe (4).
    `${drop} ${socatPath} TCP-LISTEN:${apiPort},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socketInside} ` +
      `${heldDirFd}<&- 2>/dev/null &`,
    // Port 9001 is 2329 in /proc/net/tcp; state 0A is LISTEN.
    `i=0; while ! /usr/bin/grep -q ':2329 00000000:0000 0A' /proc/net/tcp; do`,
    `  i=$((i+1)); [ $i -gt 2000 ] && fail 'the runtime API forwarder did not start'`,
    `  /usr/bin/sleep 0.001`,
    `done`,
  ];
  if (runtime.kind === 'node') {
    // A fifo opened read-write and unlinked at once is an anonymous pipe this shell and the Node share.
    lines.push(
      `/usr/bin/mkfifo -m 600 /tmp/.strato-assign && exec 4<>/tmp/.strato-assign && /usr/bin/rm /tmp/.strato-assign || fail 'assignment pipe'`,
      [
        drop,
        ...Object.entries({ ...runtime.env, STRATO_ASSIGNMENT_FD: String(assignmentFd) }).map(
          ([name, value]) => q(`${name}=${value}`),
        ),
        ...runtime.argv.map(q),
        `${assignmentFd}<&4 4<&- ${heldDirFd}<&- &`,
      ].join(' '),
      'runtime_pid=$!',
    );
  } else {
    lines.push(`echo ${poolReadyMarker}`);
  }
  // The gateway writes the assignment and closes stdin (a socket: /dev/stdin cannot be opened to source it).
  lines.push(`assignment=$(/usr/bin/cat) && eval "$assignment" || fail 'no assignment'`, 'exit 0');
  return lines.join('\n');
}

/** What the assignment needs to know about the function. */
export interface Assignment {
  /** The code's directory name in the code cache (its sha256). */
  codeSha256: string;
  uid: number;
  gid: number;
  env: Readonly<Record<string, string>>;
  /** argv of the runtime to exec (`exec` pools only). */
  argv: readonly string[];
}

/**
 * The snippet the pooled root shell evaluates: bind the function's code read-only at the task root, close the
 * code cache root, then either exec the runtime unprivileged with exactly `env`, or hand a waiting Node its
 * env and wait for it (the shell stays pid 1, so the sandbox ends when Node does).
 */
export function buildAssignmentScript(runtime: PooledRuntime['kind'], assignment: Assignment): string {
  const { mount } = confinementTools;
  if (!/^[0-9a-f]{64}$/.test(assignment.codeSha256)) throw new Error('invalid code hash');
  const lines = [
    // --no-canonicalize: mount(8) would otherwise resolve the fd link to a path, which names the cover.
    `${mount} --no-canonicalize --bind /proc/self/fd/${heldDirFd}/${assignment.codeSha256} ${taskRoot} || fail 'bind ${taskRoot}'`,
    `${mount} -o remount,bind,ro,nosuid,nodev ${taskRoot} || fail 'remount ${taskRoot}'`,
    `exec ${heldDirFd}<&-`,
  ];
  if (runtime === 'node') {
    const line = JSON.stringify({ env: assignment.env, cwd: taskRoot });
    lines.push(`printf '%s\\n' ${q(line)} >&4 || fail 'assignment pipe'`, 'exec 4<&-');
    lines.push('wait $runtime_pid; exit $?');
  } else {
    lines.push(
      `cd ${taskRoot} || fail 'cd ${taskRoot}'`,
      [
        `exec ${dropPrivileges(assignment.uid, assignment.gid)}`,
        ...Object.entries(assignment.env).map(([name, value]) => q(`${name}=${value}`)),
        ...assignment.argv.map(q),
      ].join(' '),
    );
  }
  return `${lines.join('\n')}\n`;
}
