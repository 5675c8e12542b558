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

/**
 * Deploys a `nodejs20.x` zip of `files` through `PUT /v1/functions/{name}` with `settings` beside it;
 * resolves with the response.
 */
export async function deployNodeZip(
  server: { url: string; auth(extra?: Record<string, string>): Record<string, string> },
  name: string,
  files: Record<string, string | Buffer>,
  handler = 'index.handler',
  settings: Record<string, unknown> = {},
): Promise<Response> {
  const zip = await zipOf(files);
  return fetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: server.auth({ 'content-type': 'application/json' }),
    body: JSON.stringify({ zipFile: zip.toString('base64'), runtime: 'nodejs20.x', handler, ...settings }),
  });
}
