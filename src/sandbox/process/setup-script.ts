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
  /**
   * A directory opened before anything is covered and kept open on {@link heldDirFd} (the pool's code cache
   * root, hidden under the data dir, from which the function's code is bound later).
   */
  heldDir?: string;
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

// dash accepts single-digit descriptors only; 0-2 are stdio, 9 is the held directory.
const firstBindFd = 3;
const maxBinds = 5;
/** The descriptor {@link ConfinementPlan.heldDir} stays open on. */
export const heldDirFd = 9;

/**
 * The POSIX sh script `unshare` runs as pid 1 of the new namespaces, as root, before it execs the user's
 * command through `setpriv`. Order matters: join the cgroup before anything else (so every later process
 * is limited), open bind sources before /tmp and hidden paths are covered, make every mount read-only before
 * adding the writable /tmp, and drop privileges last.
 */
export function buildSetupScript(plan: ConfinementPlan): string {
  return [
    ...confinementLines(plan),
    `cd ${q(plan.cwd)} || fail ${q(`cd ${plan.cwd}`)}`,
    [
      `exec ${dropPrivileges(plan.uid, plan.gid)}`,
      ...Object.entries(plan.env).map(([name, value]) => q(`${name}=${value}`)),
      q(plan.command),
      ...plan.args.map(q),
    ].join(' '),
  ].join('\n');
}

/**
 * `setpriv ... env -i --`: what precedes `NAME=value`s and the command that runs unprivileged. env -i: the
 * process gets exactly the given environment, not even what sh exports (PWD).
 */
export function dropPrivileges(uid: number, gid: number): string {
  const { setpriv, env } = confinementTools;
  return (
    `${setpriv} --reuid=${uid} --regid=${gid} --clear-groups --no-new-privs ` +
    `--inh-caps=-all --bounding-set=-all -- ${env} -i --`
  );
}

/** The setup script up to dropping privileges: cgroup, mounts, binds, loopback, rlimits (defines `fail`). */
export function confinementLines(
  plan: Omit<ConfinementPlan, 'env' | 'command' | 'args' | 'cwd' | 'codeDir'>,
): string[] {
  if (plan.binds.length > maxBinds) throw new Error(`at most ${maxBinds} bind mounts are supported`);
  const { mount, umount, mkdir, prlimit } = confinementTools;
  return [
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
    ...(plan.heldDir === undefined
      ? []
      : [
          `[ -d ${q(plan.heldDir)} ] || fail ${q(`no directory ${plan.heldDir}`)}; exec ${heldDirFd}< ${q(plan.heldDir)}`,
        ]),
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
  ];
}

/** Single-quotes a value for POSIX sh. */
export function q(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
