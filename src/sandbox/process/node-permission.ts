import type { NodeBinaryInfo } from '../../config/node-runtimes.js';

/** What a Node function may touch under Node's permission model, as paths inside the sandbox. */
export interface NodePermissionScope {
  /** Read-only: the task root, the runtime client's directory. */
  read: readonly string[];
  /** Read-write: /tmp, the only writable place in the sandbox anyway. */
  readWrite: readonly string[];
}

/**
 * The flags that put a function's Node under Node's permission model (defence in depth: the sandbox's
 * confinement is the boundary; this also keeps a compromised dependency off the rest of the read-only root).
 * Picked from the flags the binary accepts: `--permission` (Node 22.13+, 23.5+, 24) or
 * `--experimental-permission` (Node 20, 21, early 22/23); one path per flag, as Node 20.20, 22 and 24 take
 * them (comma lists were dropped).
 *
 * Native addons are a goal of this runtime, so when a Node has the model but no `--allow-addons` (which would
 * leave addons unloadable under it), the model is left off rather than the addons. Child processes stay
 * denied: a child runs outside the model, so allowing them would void the read restriction (the sandbox's
 * root is the host's, read-only, so without it a function could read any world-readable host file).
 * Returns [] when the binary has no permission model.
 */
export function nodePermissionFlags(
  node: Pick<NodeBinaryInfo, 'flags'>,
  scope: NodePermissionScope,
): string[] {
  const enable = node.flags.has('--permission')
    ? '--permission'
    : node.flags.has('--experimental-permission')
      ? '--experimental-permission'
      : undefined;
  if (enable === undefined || !node.flags.has('--allow-addons')) return [];
  const directory = (dir: string) => (dir.endsWith('/') ? dir : `${dir}/`);
  const flags = [
    enable,
    ...[...scope.read, ...scope.readWrite].map((dir) => `--allow-fs-read=${directory(dir)}`),
    ...scope.readWrite.map((dir) => `--allow-fs-write=${directory(dir)}`),
    '--allow-addons',
    // Workers run under the same permissions as the main thread (measured), and libraries use them freely.
    ...(node.flags.has('--allow-worker') ? ['--allow-worker'] : []),
  ];
  if (node.flags.has('--disable-warning')) {
    // Every start would print these on stderr, that is into each function's first invocation's logs.
    if (enable === '--experimental-permission') flags.push('--disable-warning=ExperimentalWarning');
    flags.push('--disable-warning=SecurityWarning');
  }
  return flags;
}
