import { createHash } from 'node:crypto';
import type { AliasRecord, VersionRecord } from '../core/function.js';
import { LAMBDA_ACCOUNT_ID, lambdaFunctionArn } from '../core/lambda-arn.js';

/** Lambda's `FunctionConfiguration`, the members Strato has. */
export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn: string;
  Runtime?: string;
  Handler?: string;
  Role: string;
  CodeSize: number;
  CodeSha256: string;
  Description: string;
  Timeout: number;
  MemorySize: number;
  LastModified: string;
  Version: string;
  Environment?: { Variables: Record<string, string> };
  State: 'Active';
  LastUpdateStatus: 'Successful';
  PackageType: 'Zip' | 'Image';
  Architectures: string[];
  EphemeralStorage: { Size: number };
  RevisionId: string;
  RuntimeVersionConfig?: { RuntimeVersionArn: string };
  StateReason?: string;
}

/** What the server can say about the runtime that really runs a function (which Node, for `nodejs*.x`). */
export interface RuntimeDescription {
  /** An ARN-shaped id of the runtime build, e.g. `arn:aws:lambda:us-east-1::runtime:strato-node-v20.20.2`. */
  runtimeVersionArn: string;
  /** Set when the function does not run on what its `Runtime` names, saying what it runs on instead. */
  note?: string;
}

export interface ConfigurationContext {
  region: string;
  /** `$LATEST` for the unpublished view, or the version's own number. */
  qualifier: '$LATEST' | 'version';
  describeRuntime: (runtime: string) => RuntimeDescription | undefined;
}

/** Strato has no IAM: every function reports the same placeholder role. */
const ROLE = `arn:aws:iam::${LAMBDA_ACCOUNT_ID}:role/strato-function`;
/** Lambda's default ephemeral storage; the process tier's /tmp has that size. */
const EPHEMERAL_STORAGE_MB = 512;

export function functionConfiguration(
  version: VersionRecord,
  context: ConfigurationContext,
): FunctionConfiguration {
  const { config } = version;
  const qualifier = context.qualifier === '$LATEST' ? undefined : String(version.version);
  const runtime = config.runtime === undefined ? undefined : context.describeRuntime(config.runtime);
  const configuration: FunctionConfiguration = {
    FunctionName: version.functionName,
    FunctionArn: lambdaFunctionArn({
      functionName: version.functionName,
      region: context.region,
      ...(qualifier === undefined ? {} : { qualifier }),
    }),
    ...(config.runtime === undefined ? {} : { Runtime: config.runtime }),
    ...(config.handler === undefined ? {} : { Handler: config.handler }),
    Role: ROLE,
    CodeSize: version.codeSize,
    CodeSha256: Buffer.from(version.codeSha256, 'hex').toString('base64'),
    Description: version.description,
    // Strato keeps milliseconds; Lambda speaks whole seconds.
    Timeout: Math.ceil(config.timeoutMs / 1000),
    MemorySize: config.memoryMb,
    LastModified: lambdaTimestamp(version.createdAt),
    Version: qualifier ?? '$LATEST',
    ...(Object.keys(config.env).length === 0 ? {} : { Environment: { Variables: config.env } }),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: config.image === undefined ? 'Zip' : 'Image',
    Architectures: [process.arch === 'arm64' ? 'arm64' : 'x86_64'],
    EphemeralStorage: { Size: EPHEMERAL_STORAGE_MB },
    RevisionId: revisionId(`${version.functionName}:${version.version}:${version.createdAt}`),
    ...(runtime === undefined
      ? {}
      : { RuntimeVersionConfig: { RuntimeVersionArn: runtime.runtimeVersionArn } }),
    ...(runtime?.note === undefined ? {} : { StateReason: runtime.note }),
  };
  return configuration;
}

/** Lambda's `AliasConfiguration`. */
export function aliasConfiguration(alias: AliasRecord, region: string) {
  const weights = alias.additionalVersionWeights;
  return {
    AliasArn: lambdaFunctionArn({ functionName: alias.functionName, qualifier: alias.name, region }),
    Name: alias.name,
    FunctionVersion: String(alias.functionVersion),
    Description: alias.description,
    ...(Object.keys(weights).length === 0 ? {} : { RoutingConfig: { AdditionalVersionWeights: weights } }),
    RevisionId: revisionId(`${alias.functionName}:${alias.name}:${alias.updatedAt}`),
  };
}

/** Lambda's `LastModified` format: `2024-05-01T12:00:00.000+0000`. */
function lambdaTimestamp(iso: string): string {
  return new Date(iso).toISOString().replace('Z', '+0000');
}

/** A UUID-shaped id that changes whenever the thing it names changes, as Lambda's `RevisionId` does. */
function revisionId(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
