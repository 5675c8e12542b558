// Builds OCI images in memory for tests, in three parts re-exported here (import from this file):
// - oci-image-build.ts: layers from entry lists (written verbatim, so a test can build a malicious layer),
//   the image config and manifest with exact bytes and digests, image indexes;
// - oci-runtime-images.ts: runnable presets (busybox shell runtime, Node runtime) polling the Lambda Runtime API;
// - oci-image-archives.ts: `docker save` and OCI-layout tarballs of a built image.
export * from './oci-image-build.js';
export * from './oci-runtime-images.js';
export * from './oci-image-archives.js';
