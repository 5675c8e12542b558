import type { Command } from 'commander';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

/** `strato secrets set|ls|rm`: a function's secrets; a value is read from stdin, never from argv. */
export function registerSecretCommands(program: Command): void {
  const secrets = program.command('secrets').description("manage a function's secrets (encrypted at rest)");

  withCommon(
    secrets
      .command('set <function> <name>')
      .description('set a secret from stdin (e.g. `printf %s "$TOKEN" | strato secrets set fn TOKEN`)'),
  ).action(async (fn: string, name: string, options: CommonOptions) => {
    try {
      const value = await readValue();
      const secret = await clientFor(options).setSecret(fn, name, value);
      if (options.json) return printJson(secret);
      console.log(`set secret ${secret.name} of ${secret.functionName}`);
    } catch (error) {
      fail(error);
    }
  });

  withCommon(
    secrets.command('list <function>').alias('ls').description("list a function's secrets (names only)"),
  ).action(async (fn: string, options: CommonOptions) => {
    try {
      const { secrets: list } = await clientFor(options).listSecrets(fn);
      if (options.json) return printJson(list);
      printTable(list, ['name', 'createdAt', 'updatedAt']);
    } catch (error) {
      fail(error);
    }
  });

  withCommon(secrets.command('delete <function> <name>').alias('rm').description('delete a secret')).action(
    async (fn: string, name: string, options: CommonOptions) => {
      try {
        await clientFor(options).deleteSecret(fn, name);
        if (options.json) return printJson({ deleted: name });
        console.log(`deleted secret ${name} of ${fn}`);
      } catch (error) {
        fail(error);
      }
    },
  );
}

/**
 * The whole of stdin, less one trailing newline (what `echo` and a typed line add). Values on the command
 * line would land in shell history and in every process listing.
 */
async function readValue(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('secret value (end with Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
