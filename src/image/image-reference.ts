// Image references as a function names them (`127.0.0.1:5000/team/fn:tag`, `host/repo@sha256:...`), parsed
// with the distribution spec's grammar, and the base URL of a registry. Docker Hub is never assumed: a
// reference without a registry host is refused, so `fn:latest` cannot silently mean docker.io/library/fn.
import { StratoError } from '../core/strato-error.js';
import { DIGEST_PATTERN, type Digest, type ImageReference } from './image-types.js';

/** The distribution spec bounds the name (registry + repository) at 255 characters. */
const MAX_NAME_LENGTH = 255;
/** Name, a 128-character tag and a digest, with room to spare. */
const MAX_REFERENCE_LENGTH = 512;

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const hostPattern = new RegExp(
  `^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`,
);
/** `alpha-numeric (separator alpha-numeric)*` with separator `[_.]|__|[-]*`. */
const pathComponentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
/** A digest of any algorithm (the OCI grammar), to tell "another algorithm" from "not a digest". */
const anyDigestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function invalid(text: string, reason: string): StratoError {
  return new StratoError('INVALID_IMAGE_REFERENCE', `invalid image reference "${text}": ${reason}`);
}

/**
 * Parses `host[:port]/path[:tag][@sha256:<hex>]`. The first component must be a registry host (it holds a
 * `.` or a `:`, or is `localhost`). With neither a tag nor a digest, the tag is `latest`.
 * @throws StratoError INVALID_IMAGE_REFERENCE, or UNSUPPORTED_IMAGE for a digest of another algorithm
 */
export function parseImageReference(text: string): ImageReference {
  // Limit before matching anything, so a huge input costs nothing.
  if (text.length > MAX_REFERENCE_LENGTH) {
    throw new StratoError(
      'INVALID_IMAGE_REFERENCE',
      `image reference is longer than ${MAX_REFERENCE_LENGTH} characters`,
    );
  }
  if (text.trim() !== text || text === '') throw invalid(text, 'empty or surrounded by whitespace');
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const digestText = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_PATTERN.test(digestText)) {
      if (anyDigestPattern.test(digestText) && !digestText.startsWith('sha256:')) {
        throw new StratoError(
          'UNSUPPORTED_IMAGE',
          `image reference "${text}": only sha256 digests are supported`,
        );
      }
      throw invalid(text, 'the digest must be sha256:<64 lowercase hex digits>');
    }
    digest = digestText as Digest;
  }
  const slash = rest.indexOf('/');
  if (slash === -1) {
    throw invalid(text, 'name the registry (e.g. 127.0.0.1:5000/team/fn:tag); Docker Hub is not assumed');
  }
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  if (!(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    throw invalid(
      text,
      `"${registry}" is not a registry host (it needs a "." or a port, or is localhost); Docker Hub is not assumed`,
    );
  }
  if (!hostPattern.test(registry) || !validPort(registry))
    throw invalid(text, `"${registry}" is not a valid host[:port]`);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon !== -1) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!tagPattern.test(tag))
      throw invalid(text, 'a tag is up to 128 of [A-Za-z0-9_.-], not starting with . or -');
  }
  if (path === '') throw invalid(text, 'the repository is missing');
  for (const component of path.split('/')) {
    if (!pathComponentPattern.test(component)) {
      throw invalid(
        text,
        `repository component "${component}" must be lowercase letters and digits, separated by . _ __ or -`,
      );
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw invalid(text, `the name (registry and repository) is longer than ${MAX_NAME_LENGTH} characters`);
  }
  // As docker does; the deploy pins the digest the tag resolves to, so the default never drifts later.
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

function validPort(registry: string): boolean {
  const match = /:([0-9]+)$/.exec(
    registry.startsWith('[') ? registry.slice(registry.indexOf(']')) : registry,
  );
  if (match?.[1] === undefined) return true;
  const port = Number(match[1]);
  return port >= 1 && port <= 65535;
}

/** `registry/repository[:tag][@digest]`: the inverse of {@link parseImageReference}. */
export function formatImageReference(reference: ImageReference): string {
  const tag = reference.tag === undefined ? '' : `:${reference.tag}`;
  const digest = reference.digest === undefined ? '' : `@${reference.digest}`;
  return `${reference.registry}/${reference.repository}${tag}${digest}`;
}

/** The host of `host[:port]` (`[::1]` keeps its brackets), lowercased. */
export function registryHost(registry: string): string {
  const host = registry.startsWith('[')
    ? registry.slice(0, registry.indexOf(']') + 1)
    : registry.split(':')[0];
  return (host ?? '').toLowerCase();
}

/** localhost, 127.0.0.0/8 or [::1]: a registry on this machine, which needs no TLS. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === '[::1]' || name === '::1') return true;
  const octets = name.split('.');
  return (
    octets.length === 4 &&
    octets[0] === '127' &&
    octets.every((octet) => /^[0-9]{1,3}$/.test(octet) && Number(octet) <= 255)
  );
}

/** Whether `registry` (`host[:port]`) is spoken to over plain HTTP: loopback, or listed (as host or host:port). */
export function isPlainHttpRegistry(registry: string, insecureRegistries: readonly string[]): boolean {
  const host = registryHost(registry);
  if (isLoopbackHost(host)) return true;
  return insecureRegistries.some((entry) => {
    const listed = entry.toLowerCase();
    return listed === registry.toLowerCase() || listed === host;
  });
}

/**
 * `http://host[:port]` for loopback registries and those in `insecureRegistries` (matched as `host` or
 * `host:port`), `https://host[:port]` otherwise.
 */
export function registryBaseUrl(registry: string, insecureRegistries: readonly string[]): string {
  return `${isPlainHttpRegistry(registry, insecureRegistries) ? 'http' : 'https'}://${registry}`;
}
