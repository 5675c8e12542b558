import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StratoError } from '../core/strato-error.js';
import { DEFAULT_IMAGE_LIMITS, type Digest } from './image-types.js';
import { unpackLayer } from './layer-unpack.js';
import { sha256Of, tarOf, type TarEntry } from '../../test/helpers/layer-fixtures.js';

const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

type TestEntry = TarEntry;

function diffIdOf(tarBytes: Buffer): Digest {
  return sha256Of(tarBytes);
}

/** A ustar header for a file too large for the octal size field (base-256, as GNU tar writes it). */
function bigFileHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header[124] = 0x80;
  header.writeBigUInt64BE(BigInt(size), 128);
  header.write('00000000000\0', 136);
  header.fill(0x20, 148, 156);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

let work: string;
let target: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'strato-unpack-'));
  target = path.join(work, 'layer');
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Writes the layer as a blob file and unpacks it into `target`. */
async function unpack(entries: TestEntry[], options: { gzip?: boolean; mediaType?: string } = {}) {
  const tarBytes = await tarOf(entries);
  const blob = options.gzip === false ? tarBytes : gzipSync(tarBytes);
  const blobPath = path.join(work, 'blob');
  await writeFile(blobPath, blob);
  return unpackLayer(blobPath, options.mediaType ?? OCI_GZIP, target, diffIdOf(tarBytes));
}

async function expectRejection(promise: Promise<unknown>, code: string): Promise<StratoError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StratoError);
  expect((error as StratoError).code).toBe(code);
  return error as StratoError;
}

/** Nothing but the blob (and nothing at all at the target) is left after a refused layer. */
async function expectNothingWritten(): Promise<void> {
  expect((await readdir(work)).sort()).toEqual(['blob']);
}

describe('unpackLayer', () => {
  it('writes files, directories, symlinks and hardlinks with their metadata', async () => {
    const mtime = new Date('2020-01-02T03:04:05Z');
    const result = await unpack([
      { name: './usr/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime },
      { name: './usr/bin/tool', content: 'binary', mode: 0o755, uid: 7, gid: 8, mtime },
      { name: 'usr/bin/tool-link', type: 'link', linkname: 'usr/bin/tool' },
      { name: 'etc-link', type: 'symlink', linkname: '/etc' },
      { name: 'usr/lib-link', type: 'symlink', linkname: '../lib' },
    ]);
    expect(result).toMatchObject({ entries: 5, whiteouts: [], opaqueDirs: [] });

    const usr = await stat(path.join(target, 'usr'));
    expect(usr.mode & 0o7777).toBe(0o750);
    expect([usr.uid, usr.gid]).toEqual([1000, 1001]);
    expect(usr.mtime.getTime()).toBe(mtime.getTime());
    const tool = await stat(path.join(target, 'usr/bin/tool'));
    expect(tool.mode & 0o7777).toBe(0o755);
    expect([tool.uid, tool.gid]).toEqual([7, 8]);
    expect(tool.mtime.getTime()).toBe(mtime.getTime());
    expect(await readFile(path.join(target, 'usr/bin/tool'), 'utf8')).toBe('binary');
    expect((await stat(path.join(target, 'usr/bin/tool-link'))).ino).toBe(tool.ino);
    expect(await readlink(path.join(target, 'etc-link'))).toBe('/etc');
    expect(await readlink(path.join(target, 'usr/lib-link'))).toBe('../lib');
    // An implicit parent (usr/bin) is a plain 0755 directory.
    expect((await stat(path.join(target, 'usr/bin'))).mode & 0o7777).toBe(0o755);
  });

  it('strips setuid and setgid bits but keeps the sticky bit', async () => {
    await unpack([
      { name: 'su', content: 'x', mode: 0o4755 },
      { name: 'wall', content: 'x', mode: 0o2755 },
      { name: 'shared', type: 'directory', mode: 0o3777 },
    ]);
    expect((await stat(path.join(target, 'su'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(target, 'wall'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(target, 'shared'))).mode & 0o7777).toBe(0o1777);
  });

  it('records whiteouts and opaque directories without writing them', async () => {
    const result = await unpack([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', content: '' },
      { name: '.wh.old-root-file', content: '' },
      { name: 'var/cache/.wh..wh..opq', content: '' },
      { name: 'var/cache/new', content: 'n' },
      { name: '.wh..wh.plnk/', type: 'directory' },
    ]);
    expect(result.whiteouts).toEqual(['etc/motd', 'old-root-file']);
    expect(result.opaqueDirs).toEqual(['var/cache']);
    expect(await readdir(path.join(target, 'etc'))).toEqual([]);
    expect(await readdir(path.join(target, 'var/cache'))).toEqual(['new']);
    expect((await readdir(target)).sort()).toEqual(['etc', 'var']);
  });

  it('lets a later entry replace an earlier one of the same layer, a file over a directory and back', async () => {
    await unpack([
      { name: 'a/', type: 'directory' },
      { name: 'a/inner', content: 'inner' },
      { name: 'a', content: 'now a file' },
      { name: 'b', content: 'a file first' },
      { name: 'b/', type: 'directory' },
      { name: 'b/child', content: 'child' },
    ]);
    expect(await readFile(path.join(target, 'a'), 'utf8')).toBe('now a file');
    expect(await readFile(path.join(target, 'b/child'), 'utf8')).toBe('child');
  });

  it.each([
    ['../ traversal', [{ name: '../escaped', content: 'x' }]],
    ['nested ../ traversal', [{ name: 'a/../../escaped', content: 'x' }]],
    ['an absolute path', [{ name: '/escaped', content: 'x' }]],
    ['a character device', [{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }]],
    ['a block device', [{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }]],
    ['a fifo', [{ name: 'pipe', type: 'fifo' }]],
    ['a hardlink to outside the root', [{ name: 'passwd', type: 'link', linkname: '../../../etc/passwd' }]],
    ['a hardlink to an absolute path', [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }]],
    [
      'a hardlink to a later entry',
      [
        { name: 'early', type: 'link', linkname: 'late' },
        { name: 'late', content: 'x' },
      ],
    ],
    [
      'a hardlink to a directory',
      [
        { name: 'dir/', type: 'directory' },
        { name: 'dir-link', type: 'link', linkname: 'dir' },
      ],
    ],
    ['a relative symlink climbing out of the root', [{ name: 'up', type: 'symlink', linkname: '../../x' }]],
    [
      'a nested symlink climbing out of the root',
      [{ name: 'a/b/up', type: 'symlink', linkname: '../../../x' }],
    ],
    ['a whiteout naming the parent', [{ name: 'a/.wh...', content: '' }]],
  ] satisfies Array<[string, TestEntry[]]>)('rejects %s with INVALID_LAYER', async (_label, entries) => {
    await expectRejection(unpack(entries), 'INVALID_LAYER');
    await expectNothingWritten();
  });

  it('never writes through a symlink the layer created earlier', async () => {
    const outside = path.join(work, 'outside');
    await mkdir(outside);
    for (const linkname of [outside, '/etc', 'subdir']) {
      const error = await expectRejection(
        unpack([
          { name: 'subdir/', type: 'directory' },
          { name: 'a', type: 'symlink', linkname },
          { name: 'a/passwd', content: 'pwned' },
        ]),
        'INVALID_LAYER',
      );
      expect(error.details).toEqual({ entry: 'a/passwd' });
      expect(await readdir(outside)).toEqual([]);
      expect((await readdir(work)).sort()).toEqual(['blob', 'outside']);
    }
    // The host's /etc/passwd was not replaced either.
    expect(await readFile('/etc/passwd', 'utf8')).not.toBe('pwned');
  });

  it('names the offending entry of a refused layer', async () => {
    const error = await expectRejection(
      unpack([
        { name: 'fine', content: 'x' },
        { name: 'dev/console', type: 'character-device', devmajor: 5, devminor: 1 },
      ]),
      'INVALID_LAYER',
    );
    expect(error.details).toEqual({ entry: 'dev/console' });
  });

  it('rejects a layer whose content does not match its diff_id and discards what it wrote', async () => {
    const tarBytes = await tarOf([{ name: 'file', content: 'x' }]);
    const blobPath = path.join(work, 'blob');
    await writeFile(blobPath, gzipSync(tarBytes));
    const wrongDiffId = diffIdOf(Buffer.from('something else'));
    const error = await expectRejection(
      unpackLayer(blobPath, OCI_GZIP, target, wrongDiffId),
      'INVALID_LAYER',
    );
    expect(error.details).toMatchObject({ expectedDiffId: wrongDiffId, actualDiffId: diffIdOf(tarBytes) });
    await expectNothingWritten();
  });

  it('reads plain tars, and gzip by its magic bytes whatever the media type says', async () => {
    await unpack([{ name: 'plain', content: 'p' }], { gzip: false, mediaType: OCI_TAR });
    expect(await readFile(path.join(target, 'plain'), 'utf8')).toBe('p');
    await rm(target, { recursive: true });
    await unpack([{ name: 'mislabelled', content: 'm' }], { gzip: true, mediaType: OCI_TAR });
    expect(await readFile(path.join(target, 'mislabelled'), 'utf8')).toBe('m');
    await rm(target, { recursive: true });
    await unpack([{ name: 'docker', content: 'd' }], {
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    });
    expect(await readFile(path.join(target, 'docker'), 'utf8')).toBe('d');
  });

  it('rejects unknown and zstd media types with UNSUPPORTED_IMAGE', async () => {
    await expectRejection(
      unpack([{ name: 'f', content: 'x' }], { mediaType: 'application/x-rar' }),
      'UNSUPPORTED_IMAGE',
    );
    await expectRejection(
      unpack([{ name: 'f', content: 'x' }], { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }),
      'UNSUPPORTED_IMAGE',
    );
    await expectNothingWritten();
  });

  it('rejects a corrupt gzip stream and a truncated tar with INVALID_LAYER', async () => {
    const tarBytes = await tarOf([{ name: 'file', content: 'x'.repeat(5000) }]);
    const blobPath = path.join(work, 'blob');
    const gzipped = gzipSync(tarBytes);
    gzipped.fill(0xff, 20, 40);
    await writeFile(blobPath, gzipped);
    await expectRejection(unpackLayer(blobPath, OCI_GZIP, target, diffIdOf(tarBytes)), 'INVALID_LAYER');
    await writeFile(blobPath, tarBytes.subarray(0, 1024));
    await expectRejection(unpackLayer(blobPath, OCI_TAR, target, diffIdOf(tarBytes)), 'INVALID_LAYER');
    await expectNothingWritten();
  });

  it('stops a gzip zero bomb by its ratio after reading a small prefix', async () => {
    // A tar header announcing a 10 GiB file, then zeros: built from one deflate segment of 1 MiB of
    // zeros repeated (a full flush makes each segment independent), so the blob is ~10 MB, not 10 GiB.
    const declaredBytes = 10 * 1024 ** 3;
    const header = bigFileHeader('zeros', declaredBytes);
    const headerSegment = deflateRawSync(header, { finishFlush: constants.Z_FULL_FLUSH });
    const zeroSegment = deflateRawSync(Buffer.alloc(1024 * 1024), {
      finishFlush: constants.Z_FULL_FLUSH,
      level: 9,
    });
    const segments = declaredBytes / (1024 * 1024);
    const gzipHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const blob = Buffer.concat([gzipHeader, headerSegment, ...Array<Buffer>(segments).fill(zeroSegment)]);
    expect(blob.length).toBeLessThan(20 * 1024 * 1024);
    const blobPath = path.join(work, 'blob');
    await writeFile(blobPath, blob);

    const error = await expectRejection(
      unpackLayer(blobPath, OCI_GZIP, target, diffIdOf(Buffer.alloc(0))),
      'IMAGE_TOO_LARGE',
    );
    const details = error.details as {
      limit: string;
      compressedBytesRead: number;
      uncompressedBytes: number;
    };
    expect(details.limit).toBe('maxCompressionRatio');
    expect(details.compressedBytesRead).toBeLessThan(1024 * 1024);
    expect(details.uncompressedBytes).toBeLessThan(200 * 1024 * 1024);
    await expectNothingWritten();
  });

  it('enforces the entry-count and uncompressed-size limits', async () => {
    const many = Array.from({ length: 20 }, (_unused, index) => ({ name: `f${index}`, content: 'x' }));
    const tarBytes = await tarOf(many);
    const blobPath = path.join(work, 'blob');
    await writeFile(blobPath, tarBytes);
    const entriesError = await expectRejection(
      unpackLayer(blobPath, OCI_TAR, target, diffIdOf(tarBytes), {
        ...DEFAULT_IMAGE_LIMITS,
        maxLayerEntries: 10,
      }),
      'IMAGE_TOO_LARGE',
    );
    expect(entriesError.details).toMatchObject({ limit: 'maxLayerEntries', entry: 'f10' });
    await expectNothingWritten();

    const bytesError = await expectRejection(
      unpackLayer(blobPath, OCI_TAR, target, diffIdOf(tarBytes), {
        ...DEFAULT_IMAGE_LIMITS,
        maxLayerBytes: 4096,
      }),
      'IMAGE_TOO_LARGE',
    );
    expect(bytesError.details).toMatchObject({ limit: 'maxLayerBytes' });
    await expectNothingWritten();
  });

  it('does not write a layer whose root file system entry is a symlink', async () => {
    await expectRejection(unpack([{ name: './', type: 'symlink', linkname: '/' }]), 'INVALID_LAYER');
    await expectNothingWritten();
    expect((await lstat(work)).isDirectory()).toBe(true);
  });
});
