/** An image built in memory by a test (test/helpers/oci-image-builder.ts), ready to push or to archive. */
export interface BuiltImage {
  /** The image manifest (application/vnd.oci.image.manifest.v1+json), exact bytes. */
  manifest: Buffer;
  manifestDigest: `sha256:${string}`;
  manifestMediaType: string;
  /** The image config JSON, exact bytes. */
  config: Buffer;
  configDigest: `sha256:${string}`;
  /** Bottom layer first; `bytes` as stored (gzip or plain tar, per mediaType). */
  layers: Array<{ digest: `sha256:${string}`; mediaType: string; bytes: Buffer; diffId: `sha256:${string}` }>;
}
