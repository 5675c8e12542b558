import type { Command } from 'commander';
import { StratoClient } from '../client/strato-client.js';
import { resolveServerUrl } from '../config/cli-config.js';
import { apiKeyFor } from './cli-credentials.js';

/** The options every command that talks to a server takes. */
export interface CommonOptions {
  url?: string;
  json?: boolean;
}

export const withCommon = (command: Command) =>
  command.option('--url <url>', 'Strato server (STRATO_URL)').option('--json', 'print JSON');

/** A client of the server the options name, with the API key from `STRATO_API_KEY` or the CLI's config. */
export const clientFor = (options: CommonOptions) => {
  const url = resolveServerUrl(options.url);
  return new StratoClient(url, { apiKey: () => apiKeyFor(url) });
};
