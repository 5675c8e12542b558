import { StratoError } from '../core/strato-error.js';

export type LayerCompression = 'gzip' | 'none';

// Non-distributable ("foreign") layers are ordinary tars too; whether they can be fetched is the image
// source's business, not the unpacker's.
const TAR_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** How many leading bytes of a blob {@link layerCompression} wants to see. */
export const COMPRESSION_MAGIC_BYTES = ZSTD_MAGIC.length;

/**
 * Decides how to read a layer blob. The media type says whether it is a layer we understand at all; the
 * magic bytes say how it is compressed, because some registries and tools label gzip layers as plain
 * tars and the other way round.
 */
export function layerCompression(mediaType: string, magic: Uint8Array): LayerCompression {
  if (startsWith(magic, ZSTD_MAGIC) || mediaType.endsWith('+zstd')) {
    throw new StratoError('UNSUPPORTED_IMAGE', `zstd-compressed layers are not supported (${mediaType})`, {
      details: { mediaType },
    });
  }
  if (!TAR_MEDIA_TYPES.has(mediaType)) {
    throw new StratoError('UNSUPPORTED_IMAGE', `unsupported layer media type: ${mediaType}`, {
      details: { mediaType },
    });
  }
  return startsWith(magic, GZIP_MAGIC) ? 'gzip' : 'none';
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}
