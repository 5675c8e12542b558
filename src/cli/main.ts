import { Command } from 'commander';
import { registerCostCommand } from './commands-cost.js';
import { registerDeployCommand } from './commands-deploy.js';
import { registerDlqCommands } from './commands-dlq.js';
import { registerFunctionCommands } from './commands-functions.js';
import { registerServerCommand } from './commands-server.js';
import { registerTriggerCommands } from './commands-triggers.js';
import { registerSecretCommands } from './commands-secrets.js';
import { registerKeyCommands } from './commands-keys.js';

const program = new Command();
program
  .name('strato')
  .description('Strato: self-hosted serverless functions')
  .version('0.1.0')
  // `strato --version` is the program's; `strato invoke fn --version 2` is the subcommand's.
  .enablePositionalOptions();
registerServerCommand(program);
registerDeployCommand(program);
registerFunctionCommands(program);
registerDlqCommands(program);
registerTriggerCommands(program);
registerSecretCommands(program);
registerKeyCommands(program);
registerCostCommand(program);
await program.parseAsync(process.argv);
