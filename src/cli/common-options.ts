import type { Command } from 'commander';
import { StratoClient } from '../client/strato-client.js';
import { resolveServerUrl } from '../config/cli-config.js';

/** The options every command that talks to a server takes. */
export interface CommonOptions {
  url?: string;
  json?: boolean;
}

export const withCommon = (command: Command) =>
  command.option('--url <url>', 'Strato server (STRATO_URL)').option('--json', 'print JSON');

export const clientFor = (options: CommonOptions) => new StratoClient(resolveServerUrl(options.url));
