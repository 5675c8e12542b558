import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSpec } from '../../core/sandbox.js';
import { lambdaFunctionArn } from '../../core/lambda-arn.js';
import type { EgressPolicy } from '../egress/egress-policy.js';
import { EgressProxy, type EgressProxyOptions } from '../egress/egress-proxy.js';
import { RuntimeApiEndpoint } from '../runtime-api/runtime-api-endpoint.js';
import { spawnConfined, type ConfinedProcess } from './confined-process.js';
import { OutputCapture } from './output-capture.js';
import { sandboxUid, type PooledSandbox } from './pooled-sandbox.js';
import type { RuntimeCommand } from './runtime-command.js';
import {
  egressSocketName,
  forwarderScript,
  runtimeApiAddress,
  runtimeDirInside,
  socketName,
  taskRoot,
} from './runtime-forwarder.js';
import { nodePoolKey, type PoolKey } from './sandbox-pool.js';

/** A runtime process started for one instance, fresh or from the pool; its output goes to `capture`. */
export interface LaunchedRuntime {
  endpoint: RuntimeApiEndpoint;
  process: ConfinedProcess;
  capture: OutputCapture;
  /** Kills the process group, closes the endpoint and removes the instance's directory. */
  stop: () => Promise<void>;
}

export type ReadyCommand = Extract<RuntimeCommand, { kind: 'ready' }>;

// Node reads these only when it starts (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ..., ICU's locale from LANG/LC_*,
// ld.so's LD_*, libuv's UV_THREADPOOL_SIZE, OpenSSL's cert paths): a pre-started Node cannot honour them, so a
// function that sets one starts its own Node. NODE_PATH is re-read after assignment; TZ applies when set.
const startOnlyNodeEnv = /^(NODE_(?!PATH$)|UV_|LC_|LANG$|LD_|SSL_CERT_|OPENSSL_)/;

/** The pool a spec's instance may come from, or undefined when it must start its own runtime. */
export function poolKeyOf(spec: InstanceSpec, command: ReadyCommand): PoolKey | undefined {
  if (command.nodePath === undefined) return 'exec';
  if (Object.keys(spec.config.env).some((name) => startOnlyNodeEnv.test(name))) return undefined;
  return nodePoolKey(command.nodePath);
}

function functionArnOf(spec: InstanceSpec): string {
  return lambdaFunctionArn({ functionName: spec.functionName, qualifier: String(spec.version) });
}

/**
 * Assigns a pooled sandbox to the spec's function (limits, ARN, code at the task root, exactly `env`).
 * Undefined when the pool handed out a sandbox that failed to get ready: the caller launches fresh.
 */
export async function launchPooled(
  taken: Promise<PooledSandbox | undefined>,
  spec: InstanceSpec,
  command: ReadyCommand,
  env: Readonly<Record<string, string>>,
): Promise<LaunchedRuntime | undefined> {
  const sandbox = await taken;
  if (sandbox === undefined) return undefined;
  try {
    await sandbox.assign(functionArnOf(spec), spec.config.memoryMb * 1024 * 1024, {
      codeSha256: spec.codeSha256,
      uid: sandboxUid,
      gid: sandboxUid,
      env,
      argv: command.argv,
    });
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  return {
    endpoint: sandbox.endpoint,
    process: sandbox.process,
    capture: sandbox.capture,
    stop: () => sandbox.stop(),
  };
}

/** An instance's egress: its function's policy, and who hears of the proxy's refusals. */
export type InstanceEgress = { policy: EgressPolicy } & Pick<EgressProxyOptions, 'onRefused'>;

/**
 * Starts the runtime the ordinary way: a Runtime API endpoint on a Unix socket in a private directory, and
 * the runtime confined with a forwarder from 127.0.0.1:9001 to that socket, since Lambda runtime clients
 * only speak TCP and the sandbox has no network but its own loopback. With `egress`, the instance's egress
 * proxy listens on a second socket there, forwarded from 127.0.0.1:9002; without, nothing but the Runtime API
 * is reachable.
 */
export async function launchFresh(
  id: string,
  spec: InstanceSpec,
  command: ReadyCommand,
  env: Readonly<Record<string, string>>,
  paths: { codeDir: string; instancesDir: string; hiddenPaths: readonly string[] },
  limits: { tmpSizeBytes: number; logLimitBytes: number },
  egress?: InstanceEgress,
): Promise<LaunchedRuntime> {
  const instanceDir = join(paths.instancesDir, id);
  let endpoint: RuntimeApiEndpoint | undefined;
  let proxy: EgressProxy | undefined;
  let child: ConfinedProcess | undefined;
  const stop = async () => {
    child?.kill();
    await child?.exited.catch(() => undefined);
    await Promise.all([endpoint?.close(), proxy?.close()]);
    await rm(instanceDir, { recursive: true, force: true });
  };
  try {
    // Private to the sandbox's uid: no other instance's runtime can reach this socket.
    await mkdir(instanceDir, { recursive: true, mode: 0o700 });
    await chown(instanceDir, sandboxUid, sandboxUid);
    const socketPath = join(instanceDir, socketName);
    endpoint = await RuntimeApiEndpoint.start({
      functionArn: functionArnOf(spec),
      listen: { path: socketPath, advertisedAddress: runtimeApiAddress },
    });
    await chown(socketPath, sandboxUid, sandboxUid);
    await chmod(socketPath, 0o600);
    if (egress !== undefined) {
      const proxySocket = join(instanceDir, egressSocketName);
      proxy = await EgressProxy.listen({
        socketPath: proxySocket,
        policy: egress.policy,
        runtimeApiAddress,
        ...(egress.onRefused === undefined ? {} : { onRefused: egress.onRefused }),
      });
      await chown(proxySocket, sandboxUid, sandboxUid);
    }
    const script = forwarderScript(
      `${runtimeDirInside}/${socketName}`,
      command.argv,
      egress === undefined ? undefined : `${runtimeDirInside}/${egressSocketName}`,
    );
    child = await spawnConfined({
      id: `strato-${id}`,
      command: '/bin/sh',
      args: ['-c', script],
      env,
      codeDir: paths.codeDir,
      cwd: taskRoot,
      tmpSizeBytes: limits.tmpSizeBytes,
      memoryBytes: spec.config.memoryMb * 1024 * 1024,
      maxPids: 64,
      maxOpenFiles: 1024,
      network: 'loopback',
      extraBinds: [
        { source: paths.codeDir, target: taskRoot, readonly: true },
        { source: instanceDir, target: runtimeDirInside, readonly: true },
        ...command.extraBinds,
      ],
      hidePaths: paths.hiddenPaths,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const capture = new OutputCapture(limits.logLimitBytes);
  child.stdout.on('data', (chunk: Buffer) => capture.write('info', chunk));
  child.stderr.on('data', (chunk: Buffer) => capture.write('error', chunk));
  child.stdin.end();
  return { endpoint, process: child, capture, stop };
}
