// A client of the OCI distribution API (`/v2/`), for pulls only: a reference becomes an ImageDescriptor
// pinned by digest (tag resolved once, index narrowed to linux/amd64, manifest and config verified), and
// each blob is streamed to disk, verified against its digest and size, and renamed into place.
import { rename, rm } from 'node:fs/promises';
import { StratoError, isStratoError } from '../core/strato-error.js';
import { readBoundedBody } from './bounded-body.js';
import { buildImageDescriptor, MAX_CONFIG_BYTES } from './image-config.js';
import { formatImageReference, parseImageReference, registryBaseUrl } from './image-reference.js';
import { sha256Digest, writeHashedFile } from './hashed-file.js';
import {
  DEFAULT_IMAGE_LIMITS,
  DIGEST_PATTERN,
  type BlobDescriptor,
  type Digest,
  type ImageDescriptor,
  type ImageLimits,
  type ImageReference,
} from './image-types.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, parseManifest, selectPlatformManifest } from './manifest.js';
import { RegistryAuth, type RegistryCredentials } from './registry-auth.js';

export type { RegistryCredentials } from './registry-auth.js';

export interface RegistryClientOptions {
  /** Credentials for a registry (`host[:port]`), used only when the registry asks for them. */
  credentials?: (registry: string) => RegistryCredentials | undefined;
  /** Registries spoken to over plain HTTP (loopback ones always are). @default [] */
  insecureRegistries?: readonly string[];
  /**
   * Bound on one manifest, config or token request, and on the silence between two chunks of a blob (a
   * large layer may take longer than this in total, but never stalls this long). @default 30_000
   */
  timeoutMs?: number;
  /** @default DEFAULT_IMAGE_LIMITS */
  limits?: ImageLimits;
}

/** Where a blob is pulled from. */
export interface RegistryRepository {
  registry: string;
  repository: string;
}

const MAX_REDIRECTS = 5;
/** An index may point at an index (a nested platform list); more than this is not an image. */
const MAX_INDEX_DEPTH = 2;

/** Pulls images from distribution registries with global fetch. Never logs, and never puts credentials in errors. */
export class RegistryClient {
  private readonly auth: RegistryAuth;
  private readonly insecureRegistries: readonly string[];
  private readonly timeoutMs: number;
  private readonly limits: ImageLimits;

  constructor(options: RegistryClientOptions = {}) {
    this.insecureRegistries = options.insecureRegistries ?? [];
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.limits = options.limits ?? DEFAULT_IMAGE_LIMITS;
    this.auth = new RegistryAuth({
      credentials: options.credentials,
      insecureRegistries: this.insecureRegistries,
      timeoutMs: this.timeoutMs,
    });
  }

  /**
   * Resolves `reference` to the linux/amd64 image it names now: by digest when it has one (its tag is then
   * only recorded), else by tag. Every manifest's bytes are hashed here; the descriptor's manifestDigest is
   * that of the platform manifest (not of an index above it), which is what runs and what re-pulls name.
   * @throws StratoError IMAGE_NOT_FOUND, REGISTRY_AUTH_FAILED, IMAGE_PULL_FAILED, INVALID_IMAGE,
   *   UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE
   */
  async resolveImage(reference: ImageReference): Promise<ImageDescriptor> {
    const target = { registry: reference.registry, repository: reference.repository };
    const name = formatImageReference(reference);
    let fetched = await this.fetchManifest(
      target,
      reference.digest ?? reference.tag ?? 'latest',
      reference.digest,
      name,
    );
    let parsed = parseManifest(fetched.bytes, fetched.contentType);
    for (let depth = 0; parsed.kind === 'index'; depth += 1) {
      if (depth >= MAX_INDEX_DEPTH)
        throw new StratoError('INVALID_IMAGE', `${name}: image indexes nested too deep`);
      const entry = selectPlatformManifest(parsed.index);
      fetched = await this.fetchManifest(target, entry.digest, entry.digest, name);
      if (fetched.bytes.length !== entry.size) {
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${name}: manifest ${entry.digest} is not the size its index says`,
        );
      }
      parsed = parseManifest(fetched.bytes, fetched.contentType);
    }
    const { manifest } = parsed;
    if (manifest.config.size > MAX_CONFIG_BYTES) {
      throw new StratoError(
        'IMAGE_TOO_LARGE',
        `${name}: the image config is larger than ${MAX_CONFIG_BYTES} bytes`,
      );
    }
    const configBytes = await this.fetchSmallBlob(target, manifest.config, name);
    return buildImageDescriptor({
      source: {
        kind: 'registry',
        registry: reference.registry,
        repository: reference.repository,
        tag: reference.tag,
      },
      manifestDigest: fetched.digest,
      manifest,
      configBytes,
      limits: this.limits,
    });
  }

  /**
   * Streams a blob into `destinationPath + '.partial'`, hashing and counting, and renames it to
   * `destinationPath` only when its size and sha256 match `blob`. The partial file never outlives a failure.
   * Callers must not download to the same destination concurrently (the layer cache pulls a layer once).
   * @throws StratoError IMAGE_PULL_FAILED (network, status, timeout, size or digest mismatch),
   *   REGISTRY_AUTH_FAILED, IMAGE_TOO_LARGE (blob.size over limits.maxBlobBytes)
   */
  async downloadBlob(
    source: RegistryRepository,
    blob: BlobDescriptor,
    destinationPath: string,
  ): Promise<void> {
    if (!DIGEST_PATTERN.test(blob.digest))
      throw new StratoError('UNSUPPORTED_IMAGE', `blob digest ${blob.digest} is not sha256`);
    // The source comes from a stored descriptor; it is checked again before it becomes a URL path.
    parseImageReference(`${source.registry}/${source.repository}@${blob.digest}`);
    if (blob.size > this.limits.maxBlobBytes) {
      throw new StratoError(
        'IMAGE_TOO_LARGE',
        `blob ${blob.digest} is ${blob.size} bytes, over the limit of ${this.limits.maxBlobBytes}`,
      );
    }
    const partialPath = `${destinationPath}.partial`;
    const what = `blob ${blob.digest} from ${source.registry}/${source.repository}`;
    const stall = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const armStallTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error(`no data for ${this.timeoutMs} ms`)), this.timeoutMs);
    };
    armStallTimer();
    try {
      const response = await this.send(source, `blobs/${blob.digest}`, undefined, stall.signal);
      if (!response.ok) {
        await response.body?.cancel();
        throw new StratoError('IMAGE_PULL_FAILED', `${what}: the registry answered ${response.status}`);
      }
      const declared = response.headers.get('content-length');
      if (declared !== null && Number(declared) !== blob.size) {
        await response.body?.cancel();
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${what}: the registry sends ${declared} bytes, the manifest says ${blob.size}`,
        );
      }
      const chunks = streamChunks(response, armStallTimer);
      const written = await writeHashedFile(
        chunks,
        partialPath,
        blob.size,
        () =>
          new StratoError(
            'IMAGE_PULL_FAILED',
            `${what}: the registry sent more than the ${blob.size} bytes the manifest says`,
          ),
      );
      if (written.size !== blob.size) {
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${what}: received ${written.size} bytes, the manifest says ${blob.size}`,
        );
      }
      if (written.digest !== blob.digest) {
        throw new StratoError('IMAGE_PULL_FAILED', `${what}: the bytes received hash to ${written.digest}`);
      }
      await rename(partialPath, destinationPath);
    } catch (error) {
      await rm(partialPath, { force: true });
      throw asPullError(error, what, stall.signal, this.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetchManifest(
    target: RegistryRepository,
    tagOrDigest: string,
    expectedDigest: Digest | undefined,
    name: string,
  ): Promise<{ bytes: Buffer; digest: Digest; contentType: string | undefined }> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await this.send(target, `manifests/${tagOrDigest}`, MANIFEST_ACCEPT, signal);
      if (response.status === 404) {
        await response.body?.cancel();
        throw new StratoError('IMAGE_NOT_FOUND', `${name} not found in registry ${target.registry}`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${name}: registry ${target.registry} answered ${response.status}`,
        );
      }
      const bytes = await readBoundedBody(
        response,
        MAX_MANIFEST_BYTES,
        () =>
          new StratoError(
            'IMAGE_TOO_LARGE',
            `${name}: the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
          ),
      );
      // The digest of a manifest is the sha256 of its bytes: computed here, never taken from the registry.
      const digest = sha256Digest(bytes);
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${name}: the manifest served for ${expectedDigest} hashes to ${digest}`,
        );
      }
      const announced = response.headers.get('docker-content-digest');
      if (announced !== null && DIGEST_PATTERN.test(announced) && announced !== digest) {
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `${name}: the manifest hashes to ${digest}, the registry says ${announced}`,
        );
      }
      return { bytes, digest, contentType: response.headers.get('content-type') ?? undefined };
    } catch (error) {
      throw asPullError(error, `${name}`, signal, this.timeoutMs);
    }
  }

  /** A config blob, in memory, verified. */
  private async fetchSmallBlob(
    target: RegistryRepository,
    blob: BlobDescriptor,
    name: string,
  ): Promise<Buffer> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const what = `${name}: blob ${blob.digest}`;
    try {
      const response = await this.send(target, `blobs/${blob.digest}`, undefined, signal);
      if (!response.ok) {
        await response.body?.cancel();
        throw new StratoError('IMAGE_PULL_FAILED', `${what}: the registry answered ${response.status}`);
      }
      const bytes = await readBoundedBody(
        response,
        blob.size,
        () =>
          new StratoError(
            'IMAGE_PULL_FAILED',
            `${what}: the registry sent more than the ${blob.size} bytes the manifest says`,
          ),
      );
      if (bytes.length !== blob.size || sha256Digest(bytes) !== blob.digest) {
        throw new StratoError('IMAGE_PULL_FAILED', `${what}: the bytes received do not match the digest`);
      }
      return bytes;
    } catch (error) {
      throw asPullError(error, what, signal, this.timeoutMs);
    }
  }

  /**
   * GET `/v2/<repository>/<path>` with whatever authorization the registry asks for (one challenge answered
   * per request), following redirects by hand so that Authorization goes only to the registry's own origin.
   * 401 and 403 from the registry become REGISTRY_AUTH_FAILED; every other status is the caller's to read.
   */
  private async send(
    target: RegistryRepository,
    path: string,
    accept: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const base = registryBaseUrl(target.registry, this.insecureRegistries);
    const origin = new URL(base).origin;
    const scope = `repository:${target.repository}:pull`;
    let url = new URL(`${base}/v2/${target.repository}/${path}`);
    let authorization = this.auth.authorization(target.registry, scope);
    let answeredChallenge = false;
    for (let redirects = 0; ;) {
      const sameOrigin = url.origin === origin;
      const headers: Record<string, string> = {};
      if (accept !== undefined) headers.accept = accept;
      if (sameOrigin && authorization !== undefined) headers.authorization = authorization;
      let response: Response;
      try {
        response = await fetch(url, { headers, redirect: 'manual', signal });
      } catch (error) {
        if (signal.aborted) throw error;
        throw new StratoError(
          'IMAGE_PULL_FAILED',
          `could not reach registry ${target.registry}: ${networkReason(error)}`,
          {
            cause: error,
          },
        );
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        redirects += 1;
        if (redirects > MAX_REDIRECTS) {
          throw new StratoError(
            'IMAGE_PULL_FAILED',
            `registry ${target.registry} redirected more than ${MAX_REDIRECTS} times`,
          );
        }
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          throw new StratoError(
            'IMAGE_PULL_FAILED',
            `registry ${target.registry} redirected to a non-http(s) URL`,
          );
        }
        continue;
      }
      if (response.status === 401 && sameOrigin && !answeredChallenge) {
        await response.body?.cancel();
        authorization = await this.auth.answer(
          target.registry,
          scope,
          response.headers.get('www-authenticate'),
        );
        answeredChallenge = true;
        continue;
      }
      if ((response.status === 401 || response.status === 403) && sameOrigin) {
        await response.body?.cancel();
        this.auth.forget(target.registry, scope);
        throw new StratoError(
          'REGISTRY_AUTH_FAILED',
          `registry ${target.registry} refused access to ${target.repository}${authorization === undefined ? ' (no credentials were sent)' : ' with the credentials given'}`,
        );
      }
      return response;
    }
  }
}

async function* streamChunks(response: Response, onChunk: () => void): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk();
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function networkReason(error: unknown): string {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ?? cause.message;
  return String(cause);
}

/** StratoErrors pass through; an abort becomes a timeout, anything else a pull failure. */
function asPullError(error: unknown, what: string, signal: AbortSignal, timeoutMs: number): StratoError {
  if (isStratoError(error)) return error;
  if (signal.aborted) {
    return new StratoError(
      'IMAGE_PULL_FAILED',
      `${what}: the registry did not answer within ${timeoutMs} ms`,
      { cause: error },
    );
  }
  return new StratoError('IMAGE_PULL_FAILED', `${what}: ${networkReason(error)}`, { cause: error });
}
