/** The parts of an OCI image's config (`config` of the image config JSON) that decide how it runs. */
export interface ImageRunConfig {
  entrypoint: string[];
  cmd: string[];
  /** `NAME=value` pairs in image order. */
  env: string[];
  /** Absolute; `/` when the image sets none. */
  workingDir: string;
  /** The image's USER, as written (`''` when unset). Recorded; the container tier decides what runs. */
  user: string;
}

/** An image's root file system on this node, ready for the container tier (read-only, shared by instances). */
export interface PreparedImage {
  /** Absolute path of the assembled root file system. Never written to by a container. */
  rootfsDir: string;
  config: ImageRunConfig;
  /** `sha256:...` of the image manifest the version pins. */
  manifestDigest: string;
}

/** What a container-image function version records in its config: the image it pins. */
export interface FunctionImage {
  /** As the user gave it (`127.0.0.1:5000/team/fn:tag`), or `archive` for an uploaded tarball. */
  reference: string;
  /** The manifest digest the version runs, whatever the tag points at later. */
  manifestDigest: string;
}
