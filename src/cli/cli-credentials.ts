import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { apiKeyFromEnv, cliConfigFile } from '../config/cli-config.js';

/** The CLI's config file: an API key per server URL. Written 0600: it holds secrets. */
const cliConfigSchema = z.object({
  servers: z.record(z.string(), z.object({ apiKey: z.string().min(1) })).default({}),
});

type CliConfig = z.infer<typeof cliConfigSchema>;

/** The key a command sends to `url`: `STRATO_API_KEY`, else the one stored for that server. */
export function apiKeyFor(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return apiKeyFromEnv(env) ?? readCliConfig(cliConfigFile(env)).servers[serverKey(url)]?.apiKey;
}

/** Remembers `apiKey` for `url` (what `strato server` does with the admin key it created). Returns the file. */
export function storeApiKey(url: string, apiKey: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = cliConfigFile(env);
  const config = readCliConfig(file);
  config.servers[serverKey(url)] = { apiKey };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return file;
}

function readCliConfig(file: string): CliConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw error;
  }
  const parsed = cliConfigSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not a Strato CLI config: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * One entry per server whatever the spelling: a server listening on every address is reached on
 * loopback, and a trailing slash changes nothing.
 */
function serverKey(url: string): string {
  const parsed = new URL(url);
  if (parsed.hostname === '0.0.0.0' || parsed.hostname === '[::]' || parsed.hostname === 'localhost') {
    parsed.hostname = '127.0.0.1';
  }
  return parsed.origin;
}
