/** Function names: what Lambda and URLs both accept. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The runtime settings of a version. Immutable once a version is published. */
export interface FunctionConfig {
  /** Memory limit of one instance, in MB. */
  memoryMb: number;
  /** Wall-clock limit of one invocation, in ms. */
  timeoutMs: number;
  /** Environment variables handed to the function (`env` / `process.env`-like bag). */
  env: Record<string, string>;
  /** Maximum instances of this function running at once. */
  concurrency: number;
}

export const DEFAULT_FUNCTION_CONFIG: FunctionConfig = {
  memoryMb: 128,
  timeoutMs: 10_000,
  env: {},
  concurrency: 10,
};

export interface FunctionRecord {
  name: string;
  /** The number `$LATEST` points at. */
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface VersionRecord {
  functionName: string;
  version: number;
  /** sha256 (hex) of the bundle, the content address of the artifact. */
  codeSha256: string;
  codeSize: number;
  /** sha256 of the source map artifact, when the bundle came with one. */
  sourceMapSha256: string | null;
  config: FunctionConfig;
  description: string;
  createdAt: string;
}

/** `$LATEST`, a version number, or (later) an alias. */
export type Qualifier = string;
export const LATEST = '$LATEST';
