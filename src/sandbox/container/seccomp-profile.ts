// The container tier's seccomp filter: allow by default, refuse a denylist with EPERM. A Lambda function runs
// unprivileged (uid 65534, no capabilities, no_new_privs), so most of these already fail for want of a
// capability; the filter keeps the kernel code behind them out of reach anyway, and closes what an unprivileged
// process could otherwise still do: create user namespaces (and with them every other namespace and mount),
// bpf, perf events, userfaultfd, io_uring, keyrings, ptrace.
//
// The list follows Docker's default profile (moby/profiles seccomp/default.json): what it allows only with a
// capability we never grant (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_PTRACE, CAP_SYS_NICE's NUMA
// calls, CAP_SYS_BOOT, ...) and what it refuses outright (keyrings, userfaultfd, io_uring since 2023, obsolete
// calls). Unlike Docker we refuse ptrace and its relatives too (no debugger runs inside a function), and we
// keep `personality` open (Docker limits its argument; it opens no new kernel surface on x86_64).
// Names unknown to the host's libseccomp are skipped by both runc and crun.

import type { OciSeccomp, OciSeccompSyscall } from './oci-spec.js';

const EPERM = 1;
const ENOSYS = 38;

/** Refused with EPERM for every argument. */
export const deniedSyscalls: readonly string[] = [
  // Mounts and namespaces (CAP_SYS_ADMIN in Docker's profile).
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'chroot',
  'unshare',
  'setns',
  'move_mount',
  'open_tree',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  // Kernel code and the machine (CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_RAWIO, CAP_SYS_TIME, ...).
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'query_module',
  'get_kernel_syms',
  'kexec_load',
  'kexec_file_load',
  'reboot',
  'swapon',
  'swapoff',
  'settimeofday',
  'stime',
  'clock_settime',
  'clock_settime64',
  'clock_adjtime',
  'clock_adjtime64',
  'acct',
  'quotactl',
  'quotactl_fd',
  'iopl',
  'ioperm',
  'syslog',
  'vhangup',
  // Kernel surfaces an unprivileged process could reach, each with a history of exploits.
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'keyctl',
  'add_key',
  'request_key',
  'lookup_dcookie',
  'open_by_handle_at',
  'name_to_handle_at',
  // Looking into other processes (CAP_SYS_PTRACE in Docker's profile; refused here outright).
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kcmp',
  // NUMA placement (CAP_SYS_NICE in Docker's profile).
  'mbind',
  'set_mempolicy',
  'migrate_pages',
  'move_pages',
  // Obsolete or 32-bit-only relics.
  'nfsservctl',
  'uselib',
  '_sysctl',
  'sysfs',
  'ustat',
  'vm86',
  'vm86old',
];

/**
 * `clone` flags that create a namespace. Without CAP_SYS_ADMIN only CLONE_NEWUSER works, and a new user
 * namespace grants the rest; all seven are refused, like `unshare`, as Docker does for an unprivileged container.
 */
const namespaceCloneFlags: readonly number[] = [
  0x00020000, // CLONE_NEWNS
  0x02000000, // CLONE_NEWCGROUP
  0x04000000, // CLONE_NEWUTS
  0x08000000, // CLONE_NEWIPC
  0x10000000, // CLONE_NEWUSER
  0x20000000, // CLONE_NEWPID
  0x40000000, // CLONE_NEWNET
];

/** The filter every container gets (x86_64, plus its 32-bit and x32 ABIs so they are no way around it). */
export function defaultSeccompProfile(): OciSeccomp {
  const syscalls: OciSeccompSyscall[] = [
    { names: [...deniedSyscalls], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    // One rule per flag: the arguments of one rule are ANDed, and "any of these bits" needs an OR.
    // Flags are clone's first argument on x86 (both ABIs).
    ...namespaceCloneFlags.map((flag): OciSeccompSyscall => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
    // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes glibc fall back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ];
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}
