import { Option, type Command } from 'commander';
import { API_KEY_SCOPES, type ApiKeyScope } from '../core/api-key.js';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

/** `strato keys create|ls|revoke`: the API keys of the caller's namespace (needs an admin key). */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage API keys (needs an admin key)');

  withCommon(
    keys
      .command('create')
      .description('create a key; its token is printed this once')
      .addOption(
        new Option('--scope <scope...>', 'what the key may do (repeatable)')
          .choices([...API_KEY_SCOPES])
          .makeOptionMandatory(),
      )
      .option('--description <text>', 'what the key is for', '')
      .option('--rate <per-second>', 'requests per second this key may make (token bucket)', Number)
      .option('--burst <requests>', 'the bucket size: requests at once after a quiet spell', Number)
      .option('--namespace <namespace>', "another tenant's namespace (platform admins only)"),
  ).action(
    async (
      options: CommonOptions & {
        scope: ApiKeyScope[];
        description: string;
        rate?: number;
        burst?: number;
        namespace?: string;
      },
    ) => {
      try {
        const created = await clientFor(options).createKey({
          scopes: options.scope,
          description: options.description,
          ...(options.rate === undefined
            ? {}
            : {
                rateLimit: {
                  rate: options.rate,
                  ...(options.burst === undefined ? {} : { burst: options.burst }),
                },
              }),
        });
        if (options.json) return printJson(created);
        console.log(`created ${created.key.id} (${created.key.scopes.join(', ')}); its token, shown once:`);
        console.log(created.token);
      } catch (error) {
        fail(error);
      }
    },
  );

  withCommon(
    keys
      .command('list')
      .alias('ls')
      .description('list keys (never their tokens)')
      .option('--namespace <namespace>', "another tenant's namespace (platform admins only)"),
  ).action(async (options: CommonOptions & { namespace?: string }) => {
    try {
      const { keys: list } = await clientFor(options).listKeys(options.namespace);
      if (options.json) return printJson(list);
      printTable(
        list.map((key) => ({ ...key, scopes: key.scopes.join(','), revokedAt: key.revokedAt ?? '' })),
        ['id', 'namespace', 'scopes', 'description', 'createdAt', 'revokedAt'],
      );
    } catch (error) {
      fail(error);
    }
  });

  withCommon(keys.command('revoke <id>').description('revoke a key: it stops working at once')).action(
    async (id: string, options: CommonOptions) => {
      try {
        await clientFor(options).revokeKey(id);
        if (options.json) return printJson({ revoked: id });
        console.log(`revoked ${id}`);
      } catch (error) {
        fail(error);
      }
    },
  );
}
