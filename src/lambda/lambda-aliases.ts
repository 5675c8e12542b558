import { aliasCreateBodySchema, aliasUpdateBodySchema } from '../config/function-manifest.js';
import { parseWith } from '../config/parse-with.js';
import { StratoError } from '../core/strato-error.js';
import { aliasConfiguration } from './function-configuration.js';
import {
  unqualifiedTarget,
  type LambdaOperationDeps,
  type OperationContext,
  type OperationReply,
} from './lambda-context.js';
import { createAliasSchema, listQuerySchema, updateAliasSchema } from './lambda-schemas.js';

/** Lambda's alias operations, on Strato's aliases (weighted splits included). */
export class LambdaAliasOperations {
  constructor(private readonly deps: LambdaOperationDeps) {}

  async createAlias(label: string, body: unknown, context: OperationContext): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const request = parseWith(createAliasSchema, body, 'CreateAlias request');
    const alias = await this.deps.functions.createAlias(
      functionName,
      parseWith(
        aliasCreateBodySchema,
        {
          name: request.Name,
          functionVersion: versionNumber(request.FunctionVersion),
          additionalVersionWeights: request.RoutingConfig?.AdditionalVersionWeights ?? {},
          description: request.Description ?? '',
        },
        'alias',
      ),
    );
    return { status: 201, body: aliasConfiguration(alias, context.region) };
  }

  async updateAlias(
    label: string,
    aliasName: string,
    body: unknown,
    context: OperationContext,
  ): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const request = parseWith(updateAliasSchema, body, 'UpdateAlias request');
    const patch = parseWith(
      aliasUpdateBodySchema,
      {
        ...(request.FunctionVersion === undefined
          ? {}
          : { functionVersion: versionNumber(request.FunctionVersion) }),
        // A RoutingConfig without weights removes the split, as on Lambda.
        ...(request.RoutingConfig === undefined
          ? {}
          : { additionalVersionWeights: request.RoutingConfig.AdditionalVersionWeights ?? {} }),
        ...(request.Description === undefined ? {} : { description: request.Description }),
      },
      'alias',
    );
    const alias = await this.deps.functions.updateAlias(functionName, aliasName, patch);
    return { status: 200, body: aliasConfiguration(alias, context.region) };
  }

  async getAlias(label: string, aliasName: string, context: OperationContext): Promise<OperationReply> {
    const alias = await this.deps.functions.getAlias(unqualifiedTarget(label), aliasName);
    return { status: 200, body: aliasConfiguration(alias, context.region) };
  }

  async listAliases(label: string, context: OperationContext): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    parseWith(listQuerySchema, Object.fromEntries(context.query), 'ListAliases query');
    // A function has few aliases: one page holds them all.
    const aliases = await this.deps.functions.listAliases(functionName);
    return {
      status: 200,
      body: { Aliases: aliases.map((alias) => aliasConfiguration(alias, context.region)) },
    };
  }

  async deleteAlias(label: string, aliasName: string): Promise<OperationReply> {
    await this.deps.functions.deleteAlias(unqualifiedTarget(label), aliasName);
    return { status: 204 };
  }
}

/** Strato's aliases point at published versions: a number, not `$LATEST`. */
function versionNumber(functionVersion: string): number {
  if (!/^[1-9]\d{0,9}$/.test(functionVersion)) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `FunctionVersion '${functionVersion}' is not a version number (Strato aliases point at published versions)`,
    );
  }
  return Number(functionVersion);
}
