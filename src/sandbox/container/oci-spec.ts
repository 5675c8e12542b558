import type { ImageRunConfig } from '../../core/container-image.js';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import { defaultSeccompProfile } from './seccomp-profile.js';

// The parts of the OCI runtime spec (runtime-spec 1.0, config.json) the container tier writes.

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciSeccompSyscall {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo: number; op: 'SCMP_CMP_MASKED_EQ' }>;
}

export interface OciSeccomp {
  defaultAction: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  architectures: string[];
  syscalls: OciSeccompSyscall[];
}

export interface OciRuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>;
    rlimits: Array<{ type: string; hard: number; soft: number }>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    resources: {
      devices: Array<{ allow: boolean; access: string }>;
      memory: { limit: number; swap: number };
      pids: { limit: number };
      cpu: { quota: number; period: number };
    };
    cgroupsPath: string;
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp: OciSeccomp;
  };
}

/** What one container is made of. */
export interface ContainerPlan {
  /** The image's root file system, used read-only (shared by every instance of the image). */
  rootfsDir: string;
  image: ImageRunConfig;
  /** The Lambda environment of the instance (lambda-environment.ts), with the Runtime API address. */
  lambdaEnv: Readonly<Record<string, string>>;
  /** The function's own variables (`config.env`). */
  functionEnv: Readonly<Record<string, string>>;
  memoryBytes: number;
  /** Size of the private tmpfs on /tmp. */
  tmpSizeBytes: number;
  /** The instance's cgroup, relative to each hierarchy's root (`/strato-ctr/<key>-<id>/c`). */
  cgroupsPath: string;
  /**
   * The network namespace to join (the forwarder's, `/proc/<pid>/ns/net`), where only loopback and the
   * Runtime API on 127.0.0.1:9001 exist. Undefined: a new, empty one (the runtime trial).
   */
  netnsPath: string | undefined;
  /** Whether the kernel has cgroup namespaces (`/proc/self/ns/cgroup`). */
  cgroupNamespace: boolean;
  /** @default 64 */
  maxPids?: number;
  /** Fraction of one CPU per 100 ms period. @default 1 */
  cpuShare?: number;
  /** Replaces the image's entrypoint + cmd (the runtime trial). */
  args?: readonly string[];
}

export type OciSpecResult =
  { kind: 'ok'; spec: OciRuntimeSpec } | { kind: 'invalid'; error: FunctionErrorInfo };

/**
 * AWS Lambda runs a container image as an unprivileged user whatever its USER says; so does Strato, with
 * nobody/nogroup.
 */
export const containerUid = 65534;
export const containerGid = 65534;
const cpuPeriodUs = 100_000;

/** As on Lambda, a function may set PATH, LANG, TZ and LD_LIBRARY_PATH; every other Lambda variable is reserved. */
const overridable = new Set(['PATH', 'LANG', 'TZ', 'LD_LIBRARY_PATH']);

/**
 * The command Lambda runs for an image: ENTRYPOINT followed by CMD, or CMD alone when there is no entrypoint.
 * Undefined when the image has neither.
 */
export function containerArgs(image: ImageRunConfig): string[] | undefined {
  const args = [...image.entrypoint, ...image.cmd];
  return args.length === 0 ? undefined : args;
}

/**
 * The container's environment, lowest precedence first: the Lambda defaults (PATH, LANG, TZ,
 * LD_LIBRARY_PATH), the image's ENV, the function's variables, and last the reserved Lambda variables
 * (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, ...), which nothing overrides. The image's ENV beats
 * Lambda's PATH as on Lambda: AWS's base images put their language runtime on PATH through ENV.
 */
export function containerEnv(
  image: ImageRunConfig,
  lambdaEnv: Readonly<Record<string, string>>,
  functionEnv: Readonly<Record<string, string>>,
): string[] {
  const env = new Map<string, string>();
  for (const [name, value] of Object.entries(lambdaEnv)) if (overridable.has(name)) env.set(name, value);
  for (const entry of image.env) {
    const equals = entry.indexOf('=');
    // An entry without '=' names nothing to set (Docker drops it too).
    if (equals <= 0) continue;
    env.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  for (const [name, value] of Object.entries(functionEnv)) env.set(name, value);
  for (const [name, value] of Object.entries(lambdaEnv)) if (!overridable.has(name)) env.set(name, value);
  return [...env].filter(([name]) => !name.includes('\0')).map(([name, value]) => `${name}=${value}`);
}

/**
 * Builds an instance's config.json: the image's command as nobody (65534) with no capabilities and no new
 * privileges, the image's root read-only with a size-capped /tmp as the only writable place, its own pid,
 * ipc, uts, mount (and cgroup) namespaces, the forwarder's network namespace, memory (no swap), pids and CPU
 * limits, runc's default masked and read-only paths, and the seccomp denylist (seccomp-profile.ts).
 */
export function buildOciSpec(plan: ContainerPlan): OciSpecResult {
  const args = plan.args === undefined ? containerArgs(plan.image) : [...plan.args];
  if (args === undefined) {
    return {
      kind: 'invalid',
      error: {
        type: 'Runtime.InvalidEntrypoint',
        message: 'the image has neither an ENTRYPOINT nor a CMD: there is nothing to run',
        stack: undefined,
      },
    };
  }
  const memory = Math.floor(plan.memoryBytes);
  const none: string[] = [];
  return {
    kind: 'ok',
    spec: {
      ociVersion: '1.0.2',
      process: {
        terminal: false,
        user: { uid: containerUid, gid: containerGid, additionalGids: [] },
        args,
        env: containerEnv(plan.image, plan.lambdaEnv, plan.functionEnv),
        cwd: plan.image.workingDir === '' ? '/' : plan.image.workingDir,
        capabilities: {
          bounding: none,
          effective: none,
          inheritable: none,
          permitted: none,
          ambient: none,
        },
        // Lambda's open-file limit; processes are bounded by the pids cgroup, not RLIMIT_NPROC (which counts
        // per uid across the whole host, and every instance is uid 65534).
        rlimits: [
          { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
          { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
        ],
        noNewPrivileges: true,
      },
      root: { path: plan.rootfsDir, readonly: true },
      hostname: 'localhost',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
        // The runtime creates the standard devices (null, zero, full, random, urandom, tty, ptmx) in it.
        {
          destination: '/dev',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'noexec', 'strictatime', 'mode=755', 'size=65536k'],
        },
        {
          destination: '/dev/pts',
          type: 'devpts',
          source: 'devpts',
          options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
        },
        {
          destination: '/dev/shm',
          type: 'tmpfs',
          source: 'shm',
          options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
        },
        {
          destination: '/dev/mqueue',
          type: 'mqueue',
          source: 'mqueue',
          options: ['nosuid', 'noexec', 'nodev'],
        },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        {
          destination: '/tmp',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'nodev', 'mode=1777', `size=${Math.floor(plan.tmpSizeBytes)}`],
        },
      ],
      linux: {
        namespaces: [
          { type: 'pid' },
          { type: 'ipc' },
          { type: 'uts' },
          { type: 'mount' },
          ...(plan.cgroupNamespace ? [{ type: 'cgroup' }] : []),
          plan.netnsPath === undefined ? { type: 'network' } : { type: 'network', path: plan.netnsPath },
        ],
        resources: {
          // Deny every device node but the runtime's defaults.
          devices: [{ allow: false, access: 'rwm' }],
          // OCI's swap is memory + swap: equal to the limit means no swap at all.
          memory: { limit: memory, swap: memory },
          pids: { limit: plan.maxPids ?? 64 },
          cpu: {
            quota: Math.max(1_000, Math.round((plan.cpuShare ?? 1) * cpuPeriodUs)),
            period: cpuPeriodUs,
          },
        },
        cgroupsPath: plan.cgroupsPath,
        // runc's default spec (`runc spec`, 1.1), plus Docker's powercap (RAPL energy counters leak what
        // other tenants compute).
        maskedPaths: [
          '/proc/acpi',
          '/proc/asound',
          '/proc/kcore',
          '/proc/keys',
          '/proc/latency_stats',
          '/proc/timer_list',
          '/proc/timer_stats',
          '/proc/sched_debug',
          '/sys/firmware',
          '/sys/devices/virtual/powercap',
          '/proc/scsi',
        ],
        readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
        seccomp: defaultSeccompProfile(),
      },
    },
  };
}
