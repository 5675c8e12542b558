import { confinementTools } from './host-capabilities.js';

/** Everything the setup script needs, already validated (absolute plain paths, sane env names). */
export interface ConfinementPlan {
  cgroupProcsFiles: readonly string[];
  codeDir: string;
  cwd: string;
  tmpSizeBytes: number;
  maxOpenFiles: number;
  maxFileSizeBytes: number;
  uid: number;
  gid: number;
  /** Set only when loopback must be brought up. */
  ipTool: string | undefined;
  binds: ReadonlyArray<{ source: string; target: string; readonly: boolean }>;
  hidePaths: readonly string[];
  env: Readonly<Record<string, string>>;
  command: string;
  args: readonly string[];
}

/** Exit status of the setup script when confining failed; the user's command never ran. */
export const setupFailedExitCode = 125;

// dash accepts single-digit descriptors only; 0-2 are stdio.
const firstBindFd = 3;
const maxBinds = 7;

/**
 * The POSIX sh script `unshare` runs as pid 1 of the new namespaces, as root, before it execs the user's
 * command through `setpriv`. Order matters: join the cgroup before anything else (so every later process
 * is limited), open bind sources before /tmp and hidden paths are covered, make every mount read-only before
 * adding the writable /tmp, and drop privileges last.
 */
export function buildSetupScript(plan: ConfinementPlan): string {
  if (plan.binds.length > maxBinds) throw new Error(`at most ${maxBinds} bind mounts are supported`);
  const { mount, umount, mkdir, prlimit, setpriv, env } = confinementTools;
  const lines: string[] = [
    `fail() { echo "strato-setup: $1" >&2; exit ${setupFailedExitCode}; }`,
    // Writing 0 moves the writer itself; pids are namespace-relative, so $$ (= 1) would name the wrong task.
    ...plan.cgroupProcsFiles.map((file) => `echo 0 > ${q(file)} || fail ${q(`cannot join ${file}`)}`),
    `${mount} --make-rprivate / || fail 'make-rprivate'`,
    // Open each bind source now: /tmp or a hidden path may cover it once the new mounts are in place.
    ...plan.binds.map(
      (bind, index) =>
        // Checked first: a failed redirection on `exec` ends sh before `|| fail` could run.
        `[ -d ${q(bind.source)} ] || fail ${q(`no directory ${bind.source}`)}; exec ${firstBindFd + index}< ${q(bind.source)}`,
    ),
    // Every inherited mount becomes read-only in this namespace only (a bind remount changes one vfsmount).
    // /proc is the namespace's own; its sysctls are root-only and the process runs unprivileged.
    // The function needs no cgroup tree (it has joined its own already); one umount saves a dozen remounts
    // and hides the host's cgroup layout. If it fails, the loop below still makes those mounts read-only.
    `${umount} -R /sys/fs/cgroup 2>/dev/null || true`,
    `while read -r _src mp _type opts _rest; do`,
    `  case "$mp" in /proc|/proc/*) continue ;; esac`,
    `  case "$opts" in ro|ro,*) continue ;; esac`,
    `  ${mount} -o remount,bind,ro "$mp" 2>/dev/null || fail "cannot make $mp read-only"`,
    `done < /proc/self/mounts`,
    `${mount} -t tmpfs -o size=${plan.tmpSizeBytes},mode=1777,nosuid,nodev tmpfs /tmp || fail 'tmpfs /tmp'`,
    ...plan.hidePaths.map(
      (path) =>
        `if [ -d ${q(path)} ]; then ${mount} -t tmpfs -o size=65536,mode=755,nosuid,nodev,noexec tmpfs ${q(path)}; ` +
        `elif [ -e ${q(path)} ]; then ${mount} --bind /dev/null ${q(path)}; fi || fail ${q(`hide ${path}`)}`,
    ),
    ...plan.binds.flatMap((bind, index) => [
      `[ -d ${q(bind.target)} ] || ${mkdir} -p ${q(bind.target)} || fail ${q(`mkdir ${bind.target}`)}`,
      // --no-canonicalize: mount(8) would otherwise resolve the fd link to a path, which now names the cover.
      `${mount} --no-canonicalize --bind /proc/self/fd/${firstBindFd + index} ${q(bind.target)} || fail ${q(`bind ${bind.target}`)}`,
      `${mount} -o remount,bind,${bind.readonly ? 'ro' : 'rw'},nosuid,nodev ${q(bind.target)} || fail ${q(`remount ${bind.target}`)}`,
      `exec ${firstBindFd + index}<&-`,
    ]),
    ...(plan.ipTool === undefined ? [] : [`${plan.ipTool} link set lo up || fail 'loopback'`]),
    `${prlimit} --pid $$ --nofile=${plan.maxOpenFiles}:${plan.maxOpenFiles} ` +
      `--fsize=${plan.maxFileSizeBytes}:${plan.maxFileSizeBytes} || fail 'rlimits'`,
    `cd ${q(plan.cwd)} || fail ${q(`cd ${plan.cwd}`)}`,
    [
      `exec ${setpriv} --reuid=${plan.uid} --regid=${plan.gid} --clear-groups --no-new-privs`,
      '--inh-caps=-all --bounding-set=-all --',
      // env -i: the process gets exactly the given environment, not even what sh exports (PWD).
      `${env} -i --`,
      ...Object.entries(plan.env).map(([name, value]) => q(`${name}=${value}`)),
      q(plan.command),
      ...plan.args.map(q),
    ].join(' '),
  ];
  return lines.join('\n');
}

/** Single-quotes a value for POSIX sh. */
function q(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
