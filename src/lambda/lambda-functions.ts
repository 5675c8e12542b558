import { deployBodySchema, functionSettingsSchema, PROCESS_RUNTIMES } from '../config/function-manifest.js';
import { parseWith } from '../config/parse-with.js';
import type { VersionRecord } from '../core/function.js';
import { StratoError } from '../core/strato-error.js';
import { functionConfiguration, type FunctionConfiguration } from './function-configuration.js';
import { DEFAULT_NAMESPACE } from '../core/api-key.js';
import {
  functionTarget,
  pageSize,
  resolveQualifier,
  unqualifiedTarget,
  type LambdaOperationDeps,
  type OperationContext,
  type OperationReply,
} from './lambda-context.js';
import {
  createFunctionSchema,
  listQuerySchema,
  publishVersionSchema,
  updateFunctionCodeSchema,
  updateFunctionConfigurationSchema,
} from './lambda-schemas.js';

/**
 * Lambda's function operations on Strato's functions. Strato publishes an immutable, numbered version on
 * every change (what `$LATEST` shows is always one of them), so PublishVersion returns the version `$LATEST`
 * already is — as Lambda returns the existing version when nothing changed since the last publish — and
 * ListVersionsByFunction lists every change.
 */
export class LambdaFunctionOperations {
  constructor(private readonly deps: LambdaOperationDeps) {}

  async createFunction(body: unknown, context: OperationContext): Promise<OperationReply> {
    const request = parseWith(createFunctionSchema, body, 'CreateFunction request');
    const functionName = unqualifiedTarget(request.FunctionName);
    const code = codeOf(request.Code, request.PackageType);
    const deploy = parseWith(
      deployBodySchema,
      {
        ...(code.kind === 'image'
          ? { image: code.imageUri }
          : {
              zipFile: code.zipFile,
              runtime: supportedRuntime(request.Runtime),
              ...(request.Handler === undefined ? {} : { handler: request.Handler }),
            }),
        ...(request.MemorySize === undefined ? {} : { memoryMb: request.MemorySize }),
        ...(request.Timeout === undefined ? {} : { timeout: request.Timeout * 1000 }),
        ...(request.Environment?.Variables === undefined ? {} : { env: request.Environment.Variables }),
        ...(request.Description === undefined ? {} : { description: request.Description }),
      },
      'function',
    );
    const view = await this.deps.functions.deploy(functionName, deploy, 'create');
    return { status: 201, body: this.configuration(view.latest, context, request.Publish === true) };
  }

  async getFunction(label: string, context: OperationContext): Promise<OperationReply> {
    const target = functionTarget(label, context.query);
    const { version, view } = await resolveQualifier(
      this.deps.functions,
      target.functionName,
      target.qualifier,
    );
    return {
      status: 200,
      body: {
        Configuration: this.configuration(version, context, view === 'version'),
        // Strato serves no download URL for the code; the SDK only needs the member to exist.
        Code:
          version.config.image === undefined
            ? { RepositoryType: 'Strato' }
            : {
                RepositoryType: 'ECR',
                ImageUri: version.config.image.reference,
                ResolvedImageUri: `${repositoryOf(version.config.image.reference)}@${version.config.image.manifestDigest}`,
              },
        Tags: {},
      },
    };
  }

  async getFunctionConfiguration(label: string, context: OperationContext): Promise<OperationReply> {
    const target = functionTarget(label, context.query);
    const { version, view } = await resolveQualifier(
      this.deps.functions,
      target.functionName,
      target.qualifier,
    );
    return { status: 200, body: this.configuration(version, context, view === 'version') };
  }

  async listFunctions(context: OperationContext): Promise<OperationReply> {
    const query = parseWith(listQuerySchema, Object.fromEntries(context.query), 'ListFunctions query');
    const page = await this.deps.functions.list(
      // The Lambda API's SigV4 credentials are the platform's own: it sees the default namespace.
      DEFAULT_NAMESPACE,
      pageSize(query.MaxItems),
      query.Marker,
    );
    const latest = await Promise.all(
      page.items.map((fn) => this.deps.functions.getVersion(fn.name, fn.latestVersion)),
    );
    return {
      status: 200,
      body: {
        Functions: latest.map((version) => this.configuration(version, context, false)),
        ...(page.next === null ? {} : { NextMarker: page.next }),
      },
    };
  }

  async updateFunctionCode(label: string, body: unknown, context: OperationContext): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const request = parseWith(updateFunctionCodeSchema, body, 'UpdateFunctionCode request');
    const code = codeOf(request, request.ImageUri === undefined ? 'Zip' : 'Image');
    const current = (await this.deps.functions.get(functionName)).latest;
    // As on Lambda, a function's package type is fixed when it is created.
    if ((code.kind === 'image') !== (current.config.image !== undefined)) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `function '${functionName}' is a ${current.config.image === undefined ? 'Zip' : 'Image'} function: send ${current.config.image === undefined ? 'ZipFile' : 'ImageUri'}`,
      );
    }
    if (code.kind === 'zip' && current.config.runtime === undefined) throw bundleFunction(functionName);
    if (request.DryRun === true) return { status: 200, body: this.configuration(current, context, false) };
    const deploy = parseWith(
      deployBodySchema,
      code.kind === 'image'
        ? { image: code.imageUri }
        : {
            zipFile: code.zipFile,
            runtime: current.config.runtime,
            ...(current.config.handler === undefined ? {} : { handler: current.config.handler }),
          },
      'function',
    );
    const view = await this.deps.functions.deploy(functionName, deploy, 'upsert');
    return { status: 200, body: this.configuration(view.latest, context, request.Publish === true) };
  }

  async updateFunctionConfiguration(
    label: string,
    body: unknown,
    context: OperationContext,
  ): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const request = parseWith(updateFunctionConfigurationSchema, body, 'UpdateFunctionConfiguration request');
    const settings = parseWith(
      functionSettingsSchema,
      {
        ...(request.MemorySize === undefined ? {} : { memoryMb: request.MemorySize }),
        ...(request.Timeout === undefined ? {} : { timeout: request.Timeout * 1000 }),
        // Lambda replaces the whole set of variables: an Environment without Variables clears them.
        ...(request.Environment === undefined ? {} : { env: request.Environment.Variables ?? {} }),
        ...(request.Description === undefined ? {} : { description: request.Description }),
      },
      'settings',
    );
    const runtime = request.Runtime === undefined ? undefined : supportedRuntime(request.Runtime);
    const view = await this.deps.functions.updateSettings(functionName, settings, {
      runtime,
      handler: request.Handler,
    });
    return { status: 200, body: this.configuration(view.latest, context, false) };
  }

  async deleteFunction(label: string, context: OperationContext): Promise<OperationReply> {
    const target = functionTarget(label, context.query);
    if (target.qualifier !== undefined) {
      throw new StratoError(
        'VALIDATION_FAILED',
        'Strato keeps every version of a function: delete the whole function (no Qualifier)',
      );
    }
    await this.deps.functions.delete(target.functionName);
    return { status: 204 };
  }

  async publishVersion(label: string, body: unknown, context: OperationContext): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const request = parseWith(publishVersionSchema, body ?? {}, 'PublishVersion request');
    const latest = (await this.deps.functions.get(functionName)).latest;
    const sha256 = Buffer.from(latest.codeSha256, 'hex').toString('base64');
    if (request.CodeSha256 !== undefined && request.CodeSha256 !== sha256) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `CodeSha256 ${request.CodeSha256} does not match the function's code (${sha256})`,
      );
    }
    return { status: 201, body: this.configuration(latest, context, true) };
  }

  async listVersionsByFunction(label: string, context: OperationContext): Promise<OperationReply> {
    const functionName = unqualifiedTarget(label);
    const query = parseWith(
      listQuerySchema,
      Object.fromEntries(context.query),
      'ListVersionsByFunction query',
    );
    const limit = pageSize(query.MaxItems);
    // The first page starts with `$LATEST`, as Lambda's does; the marker `@versions` resumes after it.
    const first = query.Marker === undefined;
    const latest = first ? (await this.deps.functions.get(functionName)).latest : undefined;
    const versionsWanted = first ? limit - 1 : limit;
    const cursor = first || query.Marker === VERSIONS_MARKER ? undefined : query.Marker;
    const page =
      versionsWanted === 0
        ? { items: [], next: VERSIONS_MARKER }
        : await this.deps.functions.listVersions(functionName, versionsWanted, cursor);
    const versions: FunctionConfiguration[] = [
      ...(latest === undefined ? [] : [this.configuration(latest, context, false)]),
      ...page.items.map((version) => this.configuration(version, context, true)),
    ];
    return {
      status: 200,
      body: { Versions: versions, ...(page.next === null ? {} : { NextMarker: page.next }) },
    };
  }

  private configuration(version: VersionRecord, context: OperationContext, published: boolean) {
    return functionConfiguration(version, {
      region: context.region,
      qualifier: published ? 'version' : '$LATEST',
      describeRuntime: this.deps.describeRuntime,
    });
  }
}

const VERSIONS_MARKER = '@versions';

/** The deployment package: a base64 zip. S3 locations and images are refused with what to do instead. */
/** `host:port/team/fn:tag@sha256:...` without its tag and digest. */
function repositoryOf(reference: string): string {
  const at = reference.indexOf('@');
  const named = at === -1 ? reference : reference.slice(0, at);
  const colon = named.lastIndexOf(':');
  return colon > named.lastIndexOf('/') ? named.slice(0, colon) : named;
}

type LambdaCode = { kind: 'zip'; zipFile: string } | { kind: 'image'; imageUri: string };

/** The deployment package: a zip (`PackageType: Zip`, the default) or a container image (`Image`). */
function codeOf(
  code: { ZipFile?: string | undefined; S3Bucket?: string | undefined; ImageUri?: string | undefined },
  packageType: string | undefined,
): LambdaCode {
  if (packageType === 'Image' || code.ImageUri !== undefined) {
    if (packageType !== 'Image') {
      throw new StratoError('VALIDATION_FAILED', 'Code.ImageUri needs PackageType Image');
    }
    if (code.ImageUri === undefined || code.ZipFile !== undefined) {
      throw new StratoError('VALIDATION_FAILED', 'an Image function needs Code.ImageUri (and no ZipFile)');
    }
    return { kind: 'image', imageUri: code.ImageUri };
  }
  if (code.S3Bucket !== undefined) {
    throw new StratoError('VALIDATION_FAILED', 'Strato has no S3: send the deployment package as ZipFile');
  }
  if (code.ZipFile === undefined || code.ZipFile === '') {
    throw new StratoError('VALIDATION_FAILED', 'ZipFile (the deployment package, a zip) is required');
  }
  return { kind: 'zip', zipFile: code.ZipFile };
}

function supportedRuntime(runtime: string | undefined): (typeof PROCESS_RUNTIMES)[number] {
  const supported: readonly string[] = PROCESS_RUNTIMES;
  if (runtime === undefined || !supported.includes(runtime)) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `Runtime ${runtime === undefined ? 'is required' : `'${runtime}' is not supported`}: use one of ${PROCESS_RUNTIMES.join(', ')}`,
    );
  }
  return runtime as (typeof PROCESS_RUNTIMES)[number];
}

function bundleFunction(functionName: string): StratoError {
  return new StratoError(
    'VALIDATION_FAILED',
    `function '${functionName}' is a JavaScript bundle (isolate tier): deploy new code with \`strato deploy\``,
  );
}
