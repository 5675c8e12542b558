import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { ZipFile } from 'yazl';
import { extractZip } from '../src/build/zip-archive.js';
import { normaliseEntryPath } from '../src/build/zip-entry-path.js';

const MiB = 1024 * 1024;
const CENTRAL_HEADER = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** Each test extracts into `base/target`, so an escape would show up as a sibling of `target`. */
let base: string;
let target: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'strato-zip-'));
  target = path.join(base, 'target');
  await mkdir(target);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function buildZip(add: (zip: ZipFile) => void): Promise<Buffer> {
  const zip = new ZipFile();
  add(zip);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Rewrites an entry name in place (local and central headers): yazl refuses to write hostile names. */
function patchName(zip: Buffer, from: string, to: string): Buffer {
  const before = Buffer.from(from, 'latin1');
  const after = Buffer.from(to, 'latin1');
  expect(after.length).toBe(before.length);
  const patched = Buffer.from(zip);
  let found = 0;
  for (let at = patched.indexOf(before); at !== -1; at = patched.indexOf(before, at + 1), found++) {
    after.copy(patched, at);
  }
  expect(found).toBe(2);
  return patched;
}

/** Offset of the first entry's central directory header, where yauzl reads sizes, flags and method. */
function centralHeaderOffset(zip: Buffer): number {
  const at = zip.indexOf(CENTRAL_HEADER);
  expect(at).toBeGreaterThan(0);
  return at;
}

async function expectRejected(
  promise: Promise<unknown>,
  code: 'INVALID_ZIP' | 'ZIP_TOO_LARGE',
  entry?: string | null,
): Promise<void> {
  await expect(promise).rejects.toMatchObject(entry === undefined ? { code } : { code, details: { entry } });
  expect(await readdir(target)).toEqual([]);
  expect(await readdir(base)).toEqual(['target']);
}

describe('extractZip: well-formed archives', () => {
  it('extracts nested directories and keeps the executable bit of bootstrap', async () => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('#!/bin/sh\necho hi\n'), 'bootstrap', { mode: 0o100755 });
      z.addEmptyDirectory('src/');
      z.addBuffer(Buffer.from('export const x = 1;\n'), 'src/lib/util.js', { mode: 0o100644 });
      z.addBuffer(Buffer.alloc(3 * MiB, 'a'), 'data/big.txt', { compress: false });
      z.addEmptyDirectory('empty/');
    });
    const result = await extractZip(zip, target);
    expect(result.files).toEqual([
      { path: 'bootstrap', size: 18, executable: true },
      { path: 'src/lib/util.js', size: 20, executable: false },
      { path: 'data/big.txt', size: 3 * MiB, executable: false },
    ]);
    expect(result.totalBytes).toBe(18 + 20 + 3 * MiB);
    expect((await stat(path.join(target, 'bootstrap'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(target, 'src/lib/util.js'))).mode & 0o777).toBe(0o644);
    expect(await readFile(path.join(target, 'src/lib/util.js'), 'utf8')).toBe('export const x = 1;\n');
    expect((await stat(path.join(target, 'empty'))).isDirectory()).toBe(true);
  });

  it('sets exact modes whatever the umask (vitest runs this file in a forked process)', async () => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('#!/bin/sh\n'), 'bootstrap', { mode: 0o100775 });
      z.addBuffer(Buffer.from('{}'), 'config.json', { mode: 0o100600 });
    });
    const previous = process.umask(0o077);
    try {
      await extractZip(zip, target);
    } finally {
      process.umask(previous);
    }
    expect((await stat(path.join(target, 'bootstrap'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(target, 'config.json'))).mode & 0o777).toBe(0o644);
  });

  it('accepts an empty zip and extracts nothing', async () => {
    const zip = await buildZip(() => undefined);
    await expect(extractZip(zip, target)).resolves.toEqual({ files: [], totalBytes: 0 });
    expect(await readdir(target)).toEqual([]);
  });

  it('lets small files compress far beyond the ratio limit', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.alloc(MiB), 'zeros.bin'));
    const result = await extractZip(zip, target, { maxCompressionRatio: 100 });
    expect(result.totalBytes).toBe(MiB);
  });

  it('refuses a target directory that is not empty, and leaves it alone', async () => {
    await writeFile(path.join(target, 'keep.txt'), 'mine');
    const zip = await buildZip((z) => z.addBuffer(Buffer.from('x'), 'a.txt'));
    await expect(extractZip(zip, target)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await readdir(target)).toEqual(['keep.txt']);
  });
});

describe('extractZip: hostile entry names', () => {
  it.each([
    ['xx/evil.txt', '../evil.txt'],
    ['a/bb/cc/x', 'a/../../x'],
    ['xx-evil.txt', '..\\evil.txt'],
    ['xetc/evil', '/etc/evil'],
    ['abcdefg', 'C:\\evil'],
    ['xxserver/evil', '\\\\server\\evil'],
  ])('rejects %s patched to %s', async (safe, hostile) => {
    const zip = patchName(await buildZip((z) => z.addBuffer(Buffer.from('pwned'), safe)), safe, hostile);
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP');
  });

  it('rejects a NUL byte in a name (a check yauzl does not make)', async () => {
    const zip = patchName(
      await buildZip((z) => z.addBuffer(Buffer.from('x'), 'aXb.txt')),
      'aXb.txt',
      'a\0b.txt',
    );
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'a\0b.txt');
  });

  it('rejects names longer than maxPathLength', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.from('x'), 'a'.repeat(40)));
    await expectRejected(extractZip(zip, target, { maxPathLength: 32 }), 'INVALID_ZIP', 'a'.repeat(40));
  });

  it('rejects a path component longer than the filesystem allows', async () => {
    const name = `dir/${'b'.repeat(256)}`;
    const zip = await buildZip((z) => z.addBuffer(Buffer.from('x'), name));
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', name);
  });

  it('normalises names itself, independently of yauzl', () => {
    expect(normaliseEntryPath('./src//lib/./a.js', 1024)).toBe('src/lib/a.js');
    expect(normaliseEntryPath('src\\a.js', 1024)).toBe('src/a.js');
    expect(normaliseEntryPath('./', 1024)).toBe('');
    for (const hostile of [
      '../x',
      'a/../../x',
      '..\\x',
      '/etc/passwd',
      'C:\\x',
      'c:x',
      '\\\\server\\x',
      'a\0b',
    ]) {
      expect(() => normaliseEntryPath(hostile, 1024), hostile).toThrow(
        expect.objectContaining({ code: 'INVALID_ZIP', details: { entry: hostile } }),
      );
    }
  });
});

describe('extractZip: entry types and duplicates', () => {
  it('rejects a symlink entry without creating it', async () => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('fine'), 'index.js');
      z.addBuffer(Buffer.from('/etc/passwd'), 'link', { mode: 0o120777 });
    });
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'link');
  });

  it.each([
    ['FIFO', 0o010644],
    ['character device', 0o020644],
    ['block device', 0o060644],
    ['socket', 0o140644],
  ])('rejects a %s entry', async (_kind, mode) => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.from('x'), 'special', { mode }));
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'special');
  });

  it.each([
    ['a.txt', 'a.txt'],
    ['a.txt', './a.txt'],
    ['dir/a.txt', 'dir//a.txt'],
  ])('rejects duplicates %s and %s', async (first, second) => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('1'), first);
      z.addBuffer(Buffer.from('2'), second);
    });
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', second);
  });

  it('rejects a file that another entry needs as a directory', async () => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('1'), 'a');
      z.addBuffer(Buffer.from('2'), 'a/b');
    });
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'a/b');
  });

  it('cleans up everything extracted before the failing entry', async () => {
    const zip = await buildZip((z) => {
      z.addBuffer(Buffer.from('#!/bin/sh\n'), 'bootstrap', { mode: 0o100755 });
      z.addBuffer(Buffer.alloc(10_000, 'x'), 'deep/nested/dir/file.txt');
      z.addEmptyDirectory('other/');
      z.addBuffer(Buffer.from('../../etc'), 'deep/link', { mode: 0o120777 });
    });
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'deep/link');
  });
});

describe('extractZip: limits', () => {
  it('rejects more entries than maxEntries', async () => {
    const zip = await buildZip((z) => {
      for (let i = 0; i < 5; i++) z.addBuffer(Buffer.from(String(i)), `f${i}.txt`);
    });
    await expectRejected(extractZip(zip, target, { maxEntries: 3 }), 'ZIP_TOO_LARGE', null);
    await expect(extractZip(zip, target, { maxEntries: 5 })).resolves.toMatchObject({ totalBytes: 5 });
  });

  it('rejects an entry whose decompressed size exceeds maxEntryBytes', async () => {
    const zip = await buildZip((z) => z.addBuffer(randomBytes(2000), 'big.bin'));
    await expectRejected(extractZip(zip, target, { maxEntryBytes: 1000 }), 'ZIP_TOO_LARGE', 'big.bin');
  });

  it('rejects archives whose entries together exceed maxTotalBytes', async () => {
    const zip = await buildZip((z) => {
      for (const name of ['a.bin', 'b.bin', 'c.bin']) z.addBuffer(randomBytes(600), name);
    });
    await expectRejected(extractZip(zip, target, { maxTotalBytes: 1000 }), 'ZIP_TOO_LARGE', 'b.bin');
  });

  it('rejects a highly compressed entry (zip bomb) by its real ratio', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.alloc(5 * MiB), 'zeros.bin'));
    await expectRejected(extractZip(zip, target, { maxCompressionRatio: 100 }), 'ZIP_TOO_LARGE', 'zeros.bin');
  });

  it('stops a zip whose central directory understates the uncompressed size', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.alloc(5 * MiB), 'bomb.bin'));
    zip.writeUInt32LE(100, centralHeaderOffset(zip) + 24);
    // Generous limits, so the header lie itself must be what stops it (yauzl's byte count assertion).
    await expectRejected(extractZip(zip, target, { maxCompressionRatio: 1e9 }), 'INVALID_ZIP', 'bomb.bin');
  });

  it('stops a bomb that lies in both its local and central headers', async () => {
    // Hand-built: 4 MiB deflated, every header claiming 100 bytes; whichever check fires first must stop it.
    const data = Buffer.alloc(4 * MiB, 0x41);
    const zip = rawZip('claims-small.txt', deflateRawSync(data), 100);
    await expect(extractZip(zip, target, { maxEntryBytes: MiB })).rejects.toMatchObject({
      code: expect.stringMatching(/^(INVALID_ZIP|ZIP_TOO_LARGE)$/),
      details: { entry: 'claims-small.txt' },
    });
    expect(await readdir(target)).toEqual([]);
  });
});

describe('extractZip: corrupt archives', () => {
  it.each([
    ['random bytes', randomBytes(4096)],
    ['an empty buffer', Buffer.alloc(0)],
    ['text', Buffer.from('not a zip at all')],
  ])('rejects %s', async (_what, bytes) => {
    await expectRejected(extractZip(bytes, target), 'INVALID_ZIP', null);
  });

  it('rejects a truncated zip', async () => {
    const zip = await buildZip((z) => z.addBuffer(randomBytes(4096), 'a.bin'));
    await expectRejected(extractZip(zip.subarray(0, zip.length - 30), target), 'INVALID_ZIP');
  });

  it('rejects corrupt deflate data', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.alloc(64 * 1024, 'abc'), 'a.txt'));
    const dataStart = zip.indexOf(LOCAL_HEADER) + 30 + 'a.txt'.length;
    zip.fill(0xff, dataStart, dataStart + 16);
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'a.txt');
  });

  it('rejects encrypted entries', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.from('secret'), 'secret.txt'));
    const flags = centralHeaderOffset(zip) + 8;
    zip.writeUInt16LE(zip.readUInt16LE(flags) | 0x1, flags);
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'secret.txt');
  });

  it('rejects unsupported compression methods', async () => {
    const zip = await buildZip((z) => z.addBuffer(Buffer.alloc(1000, 'x'), 'a.txt'));
    zip.writeUInt16LE(12, centralHeaderOffset(zip) + 10); // bzip2
    await expectRejected(extractZip(zip, target), 'INVALID_ZIP', 'a.txt');
  });
});

/**
 * A single-entry deflated zip built byte by byte, so every header can claim `claimedSize` regardless
 * of the data: the shape of a zip bomb that lies in both its local and central headers.
 */
function rawZip(name: string, deflated: Buffer, claimedSize: number): Buffer {
  const fileName = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(claimedSize, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(claimedSize, 24);
  central.writeUInt16LE(fileName.length, 28);
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  const centralOffset = local.length + fileName.length + deflated.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, deflated, central, fileName, end]);
}
