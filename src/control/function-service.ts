import { createHash } from 'node:crypto';
import {
  DEFAULT_ASYNC_POLICY,
  DEFAULT_FUNCTION_CONFIG,
  type AsyncPolicy,
  type AliasRecord,
  type FunctionConfig,
  type FunctionRecord,
  type VersionRecord,
} from '../core/function.js';
import type { FunctionImage } from '../core/container-image.js';
import type { Page, Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type {
  AliasCreateBody,
  AliasUpdateBody,
  DeployBody,
  FunctionSettings,
} from '../config/function-manifest.js';
import { checkInstanceConcurrency, type InspectHandler } from './instance-concurrency-check.js';

export interface FunctionView {
  function: FunctionRecord;
  latest: VersionRecord;
}

/** A container image made ready for a version: its descriptor stored as the version's artifact. */
export interface DeployedImage {
  /** sha256 (hex) of the stored image descriptor: the version's `codeSha256`. */
  codeSha256: string;
  image: FunctionImage;
}

/** Pulls or finds the image a deploy names (image/image-service.ts); errors carry the image codes. */
export interface ImageResolver {
  resolve(image: string, auth?: { username: string; password: string }): Promise<DeployedImage>;
}

export interface FunctionServiceHooks {
  /** Called after anything about a function changed, so caches and idle instances can go. */
  onChanged(functionName: string): void;
  /**
   * Refuses an unsafe zip (INVALID_ZIP: `..`, absolute paths, symlinks; ZIP_TOO_LARGE: bombs) before it is
   * stored, so a deploy fails instead of every later cold start. @default zips are checked only at extraction
   */
  checkZip?(zip: Buffer): Promise<void>;
  /** Refuses a config the node cannot honour (a reservation beyond its capacity) before it is published. */
  validate?(functionName: string, config: FunctionConfig): void;
  /**
   * Loads a bundle once to find its handler kind, for `instanceConcurrency` > 1 (only a `fetch` handler may
   * serve several requests per instance). @default not checked: the setting is taken as given
   */
  inspectHandler?: InspectHandler;
  /** Container images; absent: deploys of images fail with UNSUPPORTED_IMAGE. */
  images?: ImageResolver;
  /**
   * After a version is published and `onChanged` ran, before the deploy answers: get its first call ready
   * (resolve it into the invoke path's cache, send its bundle to the sandbox). Must not throw: the version
   * is published either way. @default nothing is prepared
   */
  onPublished?(version: VersionRecord): Promise<void>;
  /** After an image function's version is published: start its warm-up instance. */
  onImageDeployed?(version: VersionRecord): void;
}

/**
 * Control-plane operations on functions. Every change publishes a new immutable version (code and
 * settings together) and moves `$LATEST`; nothing is ever edited in place.
 */
export class FunctionService {
  constructor(
    private readonly store: Store,
    private readonly hooks: FunctionServiceHooks,
  ) {}

  async deploy(
    name: string,
    body: DeployBody,
    mode: 'create' | 'upsert',
  ): Promise<FunctionView & { created: boolean }> {
    const existing = mode === 'upsert' ? await this.store.getFunction(name) : undefined;
    const base = existing === undefined ? DEFAULT_FUNCTION_CONFIG : (await this.latest(name)).config;
    // The schema guarantees exactly one: a JavaScript bundle, a zip for a Lambda runtime, or an image. The
    // image is pulled (or found) before anything is published: a deploy of an unfetchable image changes nothing.
    const deployedImage = body.image === undefined ? undefined : await this.resolveImage(body.image, body);
    const zip = body.zipFile === undefined ? undefined : Buffer.from(body.zipFile, 'base64');
    if (zip !== undefined) await this.hooks.checkZip?.(zip);
    const codeSha256 =
      deployedImage?.codeSha256 ?? (await this.putArtifact(zip ?? Buffer.from(body.code ?? '', 'utf8')));
    const sourceMapSha256 =
      body.sourceMap === undefined || body.sourceMap === null
        ? null
        : await this.putArtifact(Buffer.from(body.sourceMap, 'utf8'));
    // The code kind comes with the code: a new bundle drops a runtime an earlier zip version had.
    const { runtime: _runtime, handler: _handler, image: _image, ...settings } = mergeSettings(base, body);
    const config: FunctionConfig = {
      ...settings,
      ...(body.runtime === undefined ? {} : { runtime: body.runtime }),
      ...(body.handler === undefined ? {} : { handler: body.handler }),
      ...(deployedImage === undefined ? {} : { image: deployedImage.image }),
    };
    this.hooks.validate?.(name, config);
    await checkInstanceConcurrency({ functionName: name, codeSha256, config }, this.hooks.inspectHandler);
    const { fn, version, created } = await this.store.publishVersion({
      functionName: name,
      codeSha256,
      sourceMapSha256,
      config,
      description: body.description ?? '',
      mode,
    });
    this.hooks.onChanged(name);
    if (config.image !== undefined) this.hooks.onImageDeployed?.(version);
    await this.hooks.onPublished?.(version);
    return { function: fn, latest: version, created };
  }

  /**
   * New version with the latest code and changed settings. `runtime` and `handler` (Lambda's
   * UpdateFunctionConfiguration) may change only for a zip function: a JavaScript bundle has neither.
   */
  async updateSettings(
    name: string,
    settings: FunctionSettings,
    runtimeChange: { runtime?: string | undefined; handler?: string | undefined } = {},
  ): Promise<FunctionView> {
    const latest = await this.latest(name);
    const changesRuntime = runtimeChange.runtime !== undefined || runtimeChange.handler !== undefined;
    if (changesRuntime && latest.config.image !== undefined) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `function '${name}' is a container image: its entrypoint comes with the image (deploy a new image to change it)`,
      );
    }
    if (changesRuntime && latest.config.runtime === undefined) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `function '${name}' is a JavaScript bundle (isolate tier): it has no runtime or handler to change`,
      );
    }
    const merged = mergeSettings(latest.config, settings);
    const runtime = runtimeChange.runtime ?? merged.runtime;
    const handler = runtimeChange.handler ?? merged.handler;
    const config: FunctionConfig = {
      ...merged,
      ...(runtime === undefined ? {} : { runtime }),
      ...(handler === undefined ? {} : { handler }),
    };
    this.hooks.validate?.(name, config);
    const probe = { functionName: name, codeSha256: latest.codeSha256, config };
    // Same code as the latest version: when that one already served several per instance, it was checked.
    const checked = (latest.config.instanceConcurrency ?? 1) > 1;
    await checkInstanceConcurrency(probe, checked ? undefined : this.hooks.inspectHandler);
    const { fn, version } = await this.store.publishVersion({
      functionName: name,
      codeSha256: latest.codeSha256,
      sourceMapSha256: latest.sourceMapSha256,
      config,
      description: settings.description ?? latest.description,
      mode: 'update',
    });
    this.hooks.onChanged(name);
    if (config.image !== undefined) this.hooks.onImageDeployed?.(version);
    await this.hooks.onPublished?.(version);
    return { function: fn, latest: version };
  }

  async get(name: string): Promise<FunctionView> {
    const fn = await this.store.getFunction(name);
    if (fn === undefined) throw notFound(name);
    const latest = await this.store.getVersion(name, fn.latestVersion);
    if (latest === undefined) throw new StratoError('INTERNAL', `function '${name}' lost its latest version`);
    return { function: fn, latest };
  }

  /** The functions of one namespace. */
  list(namespace: string, limit: number, cursor: string | undefined): Promise<Page<FunctionRecord>> {
    return this.store.listFunctions({ limit, cursor, namespace });
  }

  async listVersions(name: string, limit: number, cursor: string | undefined): Promise<Page<VersionRecord>> {
    if ((await this.store.getFunction(name)) === undefined) throw notFound(name);
    return this.store.listVersions(name, { limit, cursor });
  }

  async getVersion(name: string, version: number): Promise<VersionRecord> {
    const record = await this.store.getVersion(name, version);
    if (record !== undefined) return record;
    if ((await this.store.getFunction(name)) === undefined) throw notFound(name);
    throw new StratoError('VERSION_NOT_FOUND', `function '${name}' has no version ${version}`);
  }

  async delete(name: string): Promise<void> {
    if (!(await this.store.deleteFunction(name))) throw notFound(name);
    this.hooks.onChanged(name);
  }

  /**
   * Creates an alias of a published version (ALIAS_EXISTS, FUNCTION_NOT_FOUND, VERSION_NOT_FOUND).
   * Like every alias change it goes through `onChanged`, so no node-local cache outlives it.
   */
  async createAlias(functionName: string, body: AliasCreateBody): Promise<AliasRecord> {
    const alias = await this.store.createAlias({ functionName, ...body });
    this.hooks.onChanged(functionName);
    return alias;
  }

  /** Partial update: absent fields keep their value (FUNCTION_NOT_FOUND, ALIAS_NOT_FOUND, VERSION_NOT_FOUND). */
  async updateAlias(functionName: string, aliasName: string, patch: AliasUpdateBody): Promise<AliasRecord> {
    const alias = await this.store.updateAlias(functionName, aliasName, patch);
    this.hooks.onChanged(functionName);
    return alias;
  }

  async getAlias(functionName: string, aliasName: string): Promise<AliasRecord> {
    const alias = await this.store.getAlias(functionName, aliasName);
    if (alias !== undefined) return alias;
    throw await this.aliasNotFound(functionName, aliasName);
  }

  async listAliases(functionName: string): Promise<AliasRecord[]> {
    if ((await this.store.getFunction(functionName)) === undefined) throw notFound(functionName);
    return this.store.listAliases(functionName);
  }

  async deleteAlias(functionName: string, aliasName: string): Promise<void> {
    if (!(await this.store.deleteAlias(functionName, aliasName))) {
      throw await this.aliasNotFound(functionName, aliasName);
    }
    this.hooks.onChanged(functionName);
  }

  /** FUNCTION_NOT_FOUND when the whole function is missing, which tells the caller more. */
  private async aliasNotFound(functionName: string, aliasName: string): Promise<StratoError> {
    if ((await this.store.getFunction(functionName)) === undefined) return notFound(functionName);
    return new StratoError('ALIAS_NOT_FOUND', `function '${functionName}' has no alias '${aliasName}'`);
  }

  private async latest(name: string): Promise<VersionRecord> {
    return (await this.get(name)).latest;
  }

  private async resolveImage(image: string, body: DeployBody): Promise<DeployedImage> {
    if (this.hooks.images === undefined) {
      throw new StratoError('UNSUPPORTED_IMAGE', 'this server does not run container images');
    }
    return this.hooks.images.resolve(image, body.registryAuth);
  }

  private async putArtifact(bytes: Buffer): Promise<string> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.store.putArtifact(sha256, bytes);
    return sha256;
  }
}

function mergeSettings(base: FunctionConfig, settings: FunctionSettings): FunctionConfig {
  const asyncPolicy = mergeAsyncPolicy(base.async, settings);
  // Absent keeps the limit, null removes it, a value replaces it whole (its defaults are the schema's).
  const rateLimit = settings.rateLimit === undefined ? base.rateLimit : (settings.rateLimit ?? undefined);
  const egress = settings.egress === undefined ? base.egress : (settings.egress ?? []);
  const httpAuth = settings.httpAuth === undefined ? base.httpAuth : settings.httpAuth;
  return {
    memoryMb: settings.memoryMb ?? base.memoryMb,
    timeoutMs: settings.timeout ?? base.timeoutMs,
    env: settings.env ?? base.env,
    concurrency: settings.maxConcurrency ?? settings.concurrency ?? base.concurrency,
    ...(base.runtime === undefined ? {} : { runtime: base.runtime }),
    ...(base.handler === undefined ? {} : { handler: base.handler }),
    ...(base.image === undefined ? {} : { image: base.image }),
    ...(asyncPolicy === undefined ? {} : { async: asyncPolicy }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(egress === undefined || egress.length === 0 ? {} : { egress: [...new Set(egress)] }),
    ...(httpAuth === 'key' ? { httpAuth } : {}),
    ...optionalCount('reservedConcurrency', settings.reservedConcurrency, base.reservedConcurrency),
    ...optionalCount('minInstances', settings.minInstances, base.minInstances),
    ...instanceConcurrencyOf(settings.instanceConcurrency ?? base.instanceConcurrency),
  };
}

/** 1 is the default and is not stored, so a version that never asked for more reads as it always did. */
function instanceConcurrencyOf(value: number | undefined): { instanceConcurrency?: number } {
  return value === undefined || value === 1 ? {} : { instanceConcurrency: value };
}

/** A count setting that absent keeps, and 0 or null removes. */
function optionalCount<K extends string>(
  key: K,
  given: number | null | undefined,
  base: number | undefined,
): Partial<Record<K, number>> {
  const value = given === undefined ? base : (given ?? 0);
  return value === undefined || value === 0 ? {} : ({ [key]: value } as Record<K, number>);
}

/** The async policy after a change: absent settings keep their value, a null destination removes it. */
function mergeAsyncPolicy(
  base: AsyncPolicy | undefined,
  settings: FunctionSettings,
): AsyncPolicy | undefined {
  const touched =
    settings.asyncRetries !== undefined ||
    settings.maxEventAge !== undefined ||
    settings.onSuccess !== undefined ||
    settings.onFailure !== undefined;
  if (!touched) return base;
  const current = base ?? DEFAULT_ASYNC_POLICY;
  const onSuccess = settings.onSuccess === undefined ? current.onSuccess : (settings.onSuccess ?? undefined);
  const onFailure = settings.onFailure === undefined ? current.onFailure : (settings.onFailure ?? undefined);
  return {
    retries: settings.asyncRetries ?? current.retries,
    maxEventAgeMs: settings.maxEventAge ?? current.maxEventAgeMs,
    ...(onSuccess === undefined ? {} : { onSuccess }),
    ...(onFailure === undefined ? {} : { onFailure }),
  };
}

function notFound(name: string): StratoError {
  return new StratoError('FUNCTION_NOT_FOUND', `function '${name}' does not exist`);
}
