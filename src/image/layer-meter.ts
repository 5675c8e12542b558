import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { StratoError } from '../core/strato-error.js';
import type { Digest, ImageLimits } from './image-types.js';

// Small layers (a config file, a few scripts) legitimately compress far beyond any sane ratio limit;
// a bomb is only dangerous once it has produced a lot of output.
const RATIO_CHECK_THRESHOLD_BYTES = 1024 * 1024;

/**
 * Counts a layer blob on both sides of decompression and hashes the uncompressed side (the diff_id).
 * Every limit is checked on bytes actually seen, as they flow, and a breach fails the stream at once, so
 * the rest of the blob is never read: a 10 GB zero bomb costs one read buffer, not 10 GB.
 */
export class LayerMeter {
  private compressedBytes = 0;
  private uncompressedBytes = 0;
  private entryCount = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly limits: ImageLimits,
    private readonly compressed: boolean,
  ) {}

  /** Sits before the decompressor. */
  compressedSide(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.compressedBytes += chunk.length;
        if (this.compressedBytes > this.limits.maxBlobBytes) {
          return callback(
            this.tooLarge('maxBlobBytes', `layer blob is larger than ${this.limits.maxBlobBytes} bytes`),
          );
        }
        callback(null, chunk);
      },
    });
  }

  /** Sits between the decompressor (if any) and the tar parser. */
  uncompressedSide(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.uncompressedBytes += chunk.length;
        if (this.uncompressedBytes > this.limits.maxLayerBytes) {
          return callback(
            this.tooLarge(
              'maxLayerBytes',
              `layer is larger than ${this.limits.maxLayerBytes} bytes uncompressed`,
            ),
          );
        }
        // Output so far over input so far: input only grows faster than output for honest data, so this
        // does not fail a layer early that would pass when measured at the end.
        const ratio = this.uncompressedBytes / Math.max(this.compressedBytes, 1);
        if (
          this.compressed &&
          this.uncompressedBytes > RATIO_CHECK_THRESHOLD_BYTES &&
          ratio > this.limits.maxCompressionRatio
        ) {
          return callback(
            this.tooLarge(
              'maxCompressionRatio',
              `layer compresses more than ${this.limits.maxCompressionRatio}:1`,
            ),
          );
        }
        this.hash.update(chunk);
        callback(null, chunk);
      },
    });
  }

  /** Called for every tar entry, whiteouts included. */
  countEntry(name: string): void {
    this.entryCount += 1;
    if (this.entryCount > this.limits.maxLayerEntries) {
      throw this.tooLarge(
        'maxLayerEntries',
        `layer has more than ${this.limits.maxLayerEntries} entries`,
        name,
      );
    }
  }

  get entries(): number {
    return this.entryCount;
  }

  get bytes(): number {
    return this.uncompressedBytes;
  }

  /** The diff_id of everything that flowed through; call once, after the stream ended. */
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }

  private tooLarge(limit: keyof ImageLimits, message: string, entry: string | null = null): StratoError {
    return new StratoError('IMAGE_TOO_LARGE', message, {
      details: {
        limit,
        entry,
        compressedBytesRead: this.compressedBytes,
        uncompressedBytes: this.uncompressedBytes,
      },
    });
  }
}
