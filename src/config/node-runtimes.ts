import { execFile } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { z } from 'zod';

/** Lambda's managed Node.js runtimes the process tier runs with Strato's own runtime client. */
export const NODE_RUNTIMES = ['nodejs20.x', 'nodejs22.x', 'nodejs24.x'] as const;
export type NodeRuntime = (typeof NODE_RUNTIMES)[number];

export function isNodeRuntime(runtime: string): runtime is NodeRuntime {
  return (NODE_RUNTIMES as readonly string[]).includes(runtime);
}

/** `nodeRuntimes` of the server config: which Node binary runs each runtime; absent ones use Strato's Node. */
export const nodeRuntimesSchema = z.partialRecord(
  z.enum(NODE_RUNTIMES),
  z.string().refine(isAbsolute, { message: 'a Node binary is an absolute path' }),
);
export type NodeRuntimesConfig = z.output<typeof nodeRuntimesSchema>;

/** The env variable naming the binary of a runtime: `nodejs22.x` → `STRATO_NODE_NODEJS22_X`. */
export function nodeRuntimeEnvKey(runtime: NodeRuntime): string {
  return `STRATO_NODE_${runtime.toUpperCase().replaceAll('.', '_')}`;
}

/** Which Node runs a runtime. */
export interface NodeRuntimeResolution {
  runtime: NodeRuntime;
  nodePath: string;
  /** `v22.13.1`; known for Strato's own Node, and for a configured binary once it has been probed. */
  nodeVersion?: string;
  /** The binary's major version is the runtime's (a `nodejs22.x` function on Node 22); false when unknown. */
  matched: boolean;
  /** `configured`: named in `nodeRuntimes`; `server`: the Node Strato itself runs on (`process.execPath`). */
  source: 'configured' | 'server';
}

/**
 * Which Node binary runs `runtime` under `config`, and whether its major version matches. Pure apart from
 * reading the probe cache: a configured binary's version is known once the process tier has started it.
 */
export function resolveNodeRuntime(
  runtime: NodeRuntime,
  config: { nodeRuntimes: NodeRuntimesConfig },
  server: { execPath: string; version: string } = process,
): NodeRuntimeResolution {
  const configured = config.nodeRuntimes[runtime];
  const nodePath = configured ?? server.execPath;
  const nodeVersion = configured === undefined ? server.version : probed.get(configured)?.version;
  const wanted = runtime.slice('nodejs'.length, runtime.indexOf('.'));
  return {
    runtime,
    nodePath,
    ...(nodeVersion === undefined ? {} : { nodeVersion }),
    matched: nodeVersion !== undefined && majorOf(nodeVersion) === Number(wanted),
    source: configured === undefined ? 'server' : 'configured',
  };
}

/** What a Node binary is: its version and the flags it accepts (to pick its permission-model flags). */
export interface NodeBinaryInfo {
  version: string;
  flags: ReadonlySet<string>;
}

const probed = new Map<string, NodeBinaryInfo>();
const probing = new Map<string, Promise<NodeBinaryInfo>>();

// allowedNodeEnvironmentFlags lists every option the binary takes in NODE_OPTIONS, which includes the
// permission flags: one run tells both the version and which spelling of them this Node knows.
const probeScript =
  'process.stdout.write(JSON.stringify({version:process.version,flags:[...process.allowedNodeEnvironmentFlags]}))';
const probeOutput = z.object({ version: z.string().regex(/^v\d+\.\d+\.\d+/), flags: z.array(z.string()) });

/** Runs `nodePath` once (per path, cached for the life of the server) to learn its version and flags. */
export function probeNodeBinary(nodePath: string): Promise<NodeBinaryInfo> {
  const known = probed.get(nodePath);
  if (known !== undefined) return Promise.resolve(known);
  let pending = probing.get(nodePath);
  if (pending === undefined) {
    pending = new Promise<NodeBinaryInfo>((resolve, reject) => {
      execFile(nodePath, ['-e', probeScript], { env: {}, timeout: 10_000 }, (error, stdout) => {
        if (error !== null) return reject(new Error(`cannot run ${nodePath}: ${error.message}`));
        const parsed = probeOutput.safeParse(safeJson(stdout));
        if (!parsed.success) return reject(new Error(`${nodePath} did not answer like Node.js`));
        const info = { version: parsed.data.version, flags: new Set(parsed.data.flags) };
        probed.set(nodePath, info);
        resolve(info);
      });
    }).finally(() => probing.delete(nodePath));
    probing.set(nodePath, pending);
  }
  return pending;
}

function majorOf(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? NaN);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
