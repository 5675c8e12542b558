/** The server the CLI talks to: `--url`, else `STRATO_URL`, else the local default. */
export function resolveServerUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['STRATO_URL'];
  return flag ?? (fromEnv === undefined || fromEnv === '' ? 'http://127.0.0.1:8080' : fromEnv);
}

/** The registry password for `strato deploy --registry-username`: only from the environment, never argv. */
export function registryPasswordFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const password = env['STRATO_REGISTRY_PASSWORD'];
  return password === undefined || password === '' ? undefined : password;
}
