import { ZipFile } from 'yazl';

/**
 * A zip of `files` (text or bytes) as Lambda takes it; `bootstrap` and the names in `executables` are made
 * executable.
 */
export function zipOf(
  files: Record<string, string | Buffer>,
  executables: readonly string[] = [],
): Promise<Buffer> {
  const zip = new ZipFile();
  for (const [name, content] of Object.entries(files)) {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const executable = name === 'bootstrap' || executables.includes(name);
    zip.addBuffer(bytes, name, { mode: executable ? 0o100755 : 0o100644 });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}
