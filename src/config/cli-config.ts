/** The server the CLI talks to: `--url`, else `STRATO_URL`, else the local default. */
export function resolveServerUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env['STRATO_URL'] ?? 'http://127.0.0.1:8080';
}
