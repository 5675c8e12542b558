import { describe, expect, it } from 'vitest';
import type { ImageRunConfig } from '../../core/container-image.js';
import { lambdaEnvironment } from '../runtime-api/lambda-environment.js';
import {
  buildOciSpec,
  containerArgs,
  containerEnv,
  type ContainerPlan,
  type OciRuntimeSpec,
} from './oci-spec.js';
import { deniedSyscalls } from './seccomp-profile.js';

const image: ImageRunConfig = {
  entrypoint: ['/lambda-entrypoint.sh'],
  cmd: ['app.handler'],
  env: ['PATH=/var/lang/bin:/usr/bin', 'FROM_IMAGE=1', 'AWS_LAMBDA_RUNTIME_API=evil:1', 'NO_EQUALS'],
  workingDir: '/var/task',
  user: 'root',
};

const lambdaEnv = lambdaEnvironment({
  functionName: 'fn',
  version: 3,
  memoryMb: 128,
  taskRoot: '/var/task',
  runtimeApi: '127.0.0.1:9001',
  handler: 'app.handler',
});

function plan(overrides: Partial<ContainerPlan> = {}): ContainerPlan {
  return {
    rootfsDir: '/data/images/sha256-abc/rootfs',
    image,
    lambdaEnv,
    functionEnv: { FROM_FUNCTION: 'yes', AWS_LAMBDA_FUNCTION_NAME: 'other', TZ: 'Europe/Paris' },
    memoryBytes: 128 * 1024 * 1024,
    tmpSizeBytes: 64 * 1024 * 1024,
    cgroupsPath: '/strato-ctr/key-id/c',
    netnsPath: '/proc/1234/ns/net',
    cgroupNamespace: true,
    ...overrides,
  };
}

function specOf(overrides: Partial<ContainerPlan> = {}): OciRuntimeSpec {
  const built = buildOciSpec(plan(overrides));
  if (built.kind !== 'ok') throw new Error(built.error.message);
  return built.spec;
}

function envOf(spec: OciRuntimeSpec): Map<string, string> {
  return new Map(
    spec.process.env.map((entry) => [
      entry.slice(0, entry.indexOf('=')),
      entry.slice(entry.indexOf('=') + 1),
    ]),
  );
}

describe('containerArgs', () => {
  it('is ENTRYPOINT + CMD, or CMD alone, as Lambda runs an image', () => {
    expect(containerArgs(image)).toEqual(['/lambda-entrypoint.sh', 'app.handler']);
    expect(containerArgs({ ...image, entrypoint: [] })).toEqual(['app.handler']);
    expect(containerArgs({ ...image, cmd: [] })).toEqual(['/lambda-entrypoint.sh']);
    expect(containerArgs({ ...image, entrypoint: [], cmd: [] })).toBeUndefined();
  });
});

describe('buildOciSpec', () => {
  it('refuses an image with nothing to run, in Lambda words', () => {
    const built = buildOciSpec(plan({ image: { ...image, entrypoint: [], cmd: [] } }));
    expect(built).toMatchObject({ kind: 'invalid', error: { type: 'Runtime.InvalidEntrypoint' } });
  });

  it("runs the image's command in its working dir, as nobody, whatever its USER says", () => {
    const spec = specOf();
    expect(spec.process.args).toEqual(['/lambda-entrypoint.sh', 'app.handler']);
    expect(spec.process.cwd).toBe('/var/task');
    expect(spec.process.user).toEqual({ uid: 65534, gid: 65534, additionalGids: [] });
    expect(spec.process.terminal).toBe(false);
    expect(specOf({ image: { ...image, workingDir: '' } }).process.cwd).toBe('/');
    expect(specOf({ args: ['/bin/busybox', 'true'] }).process.args).toEqual(['/bin/busybox', 'true']);
  });

  it('layers the env: Lambda defaults < image < function < reserved Lambda variables', () => {
    const env = envOf(specOf());
    expect(env.get('FROM_IMAGE')).toBe('1');
    expect(env.get('FROM_FUNCTION')).toBe('yes');
    // The image's PATH beats Lambda's default; the function's TZ beats Lambda's.
    expect(env.get('PATH')).toBe('/var/lang/bin:/usr/bin');
    expect(env.get('TZ')).toBe('Europe/Paris');
    // Neither the image nor the function can redirect the Runtime API or rename the function.
    expect(env.get('AWS_LAMBDA_RUNTIME_API')).toBe('127.0.0.1:9001');
    expect(env.get('AWS_LAMBDA_FUNCTION_NAME')).toBe('fn');
    expect(env.get('_HANDLER')).toBe('app.handler');
    expect(env.has('NO_EQUALS')).toBe(false);
    // One entry per name.
    expect(new Set(specOf().process.env.map((entry) => entry.split('=')[0])).size).toBe(
      specOf().process.env.length,
    );
  });

  it('keeps the function env out of the Lambda defaults when the image sets nothing', () => {
    const env = containerEnv({ ...image, env: [] }, lambdaEnv, {});
    expect(env).toContain('PATH=/usr/local/bin:/usr/bin:/bin');
    expect(env).toContain('LAMBDA_TASK_ROOT=/var/task');
  });

  it('drops every capability and forbids new privileges', () => {
    const spec = specOf();
    for (const set of Object.values(spec.process.capabilities)) expect(set).toEqual([]);
    expect(Object.keys(spec.process.capabilities).sort()).toEqual([
      'ambient',
      'bounding',
      'effective',
      'inheritable',
      'permitted',
    ]);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.process.rlimits).toContainEqual({ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 });
  });

  it('mounts the image read-only with a size-capped /tmp as the only writable file system', () => {
    const spec = specOf();
    expect(spec.root).toEqual({ path: '/data/images/sha256-abc/rootfs', readonly: true });
    const tmp = spec.mounts.find((mount) => mount.destination === '/tmp');
    expect(tmp).toMatchObject({ type: 'tmpfs' });
    expect(tmp?.options).toEqual(
      expect.arrayContaining(['nosuid', 'nodev', 'mode=1777', `size=${64 * 1024 * 1024}`]),
    );
    expect(spec.mounts.find((mount) => mount.destination === '/sys')?.options).toContain('ro');
    expect(spec.mounts.find((mount) => mount.destination === '/dev')?.options).toEqual(
      expect.arrayContaining(['nosuid', 'noexec', 'mode=755']),
    );
    // Nothing of the host is bound in.
    expect(spec.mounts.filter((mount) => mount.type === 'bind' || mount.options?.includes('bind'))).toEqual(
      [],
    );
    expect(spec.mounts.map((mount) => mount.destination)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/sys',
      '/tmp',
    ]);
  });

  it("joins the forwarder's network namespace and makes its own of the rest", () => {
    const spec = specOf();
    expect(spec.linux.namespaces).toEqual([
      { type: 'pid' },
      { type: 'ipc' },
      { type: 'uts' },
      { type: 'mount' },
      { type: 'cgroup' },
      { type: 'network', path: '/proc/1234/ns/net' },
    ]);
    const trial = specOf({ netnsPath: undefined, cgroupNamespace: false });
    expect(trial.linux.namespaces).toContainEqual({ type: 'network' });
    expect(trial.linux.namespaces.map((namespace) => namespace.type)).not.toContain('cgroup');
  });

  it('limits memory without swap, pids and CPU in a known cgroup', () => {
    const spec = specOf({ memoryBytes: 256 * 1024 * 1024 });
    expect(spec.linux.resources.memory).toEqual({ limit: 256 * 1024 * 1024, swap: 256 * 1024 * 1024 });
    expect(spec.linux.resources.pids).toEqual({ limit: 64 });
    expect(spec.linux.resources.cpu).toEqual({ quota: 100_000, period: 100_000 });
    expect(specOf({ cpuShare: 0.5 }).linux.resources.cpu.quota).toBe(50_000);
    expect(spec.linux.cgroupsPath).toBe('/strato-ctr/key-id/c');
    expect(spec.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
  });

  it("masks runc's default paths and installs the seccomp denylist", () => {
    const spec = specOf();
    expect(spec.linux.maskedPaths).toEqual(
      expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware']),
    );
    expect(spec.linux.readonlyPaths).toEqual(expect.arrayContaining(['/proc/sys', '/proc/sysrq-trigger']));
    const seccomp = spec.linux.seccomp;
    expect(seccomp.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(seccomp.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const denied = seccomp.syscalls.filter((rule) => rule.args === undefined && rule.errnoRet === 1);
    const names = denied.flatMap((rule) => rule.names);
    for (const name of [
      'mount',
      'unshare',
      'setns',
      'ptrace',
      'bpf',
      'kexec_load',
      'keyctl',
      'userfaultfd',
    ]) {
      expect(names).toContain(name);
    }
    expect(names).toEqual([...deniedSyscalls]);
    // clone with CLONE_NEWUSER is refused; clone3 looks unimplemented so libc falls back to clone.
    expect(seccomp.syscalls).toContainEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 1,
      args: [{ index: 0, value: 0x10000000, valueTwo: 0x10000000, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(seccomp.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });
});
