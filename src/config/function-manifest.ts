import { z } from 'zod';
import {
  ALIAS_NAME_PATTERN,
  EGRESS_PATTERN,
  FUNCTION_NAME_PATTERN,
  type RateLimitPolicy,
} from '../core/function.js';
import { durationMs } from './duration.js';
import { nodeHandlerSchema } from './lambda-handler.js';
import { isNodeRuntime, NODE_RUNTIMES } from './node-runtimes.js';

/** Lambda's limit on the environment of a function (all keys and values together). */
const MAX_ENV_BYTES = 4096;

export const functionNameSchema = z
  .string()
  .regex(FUNCTION_NAME_PATTERN, 'function names are 1-64 characters of A-Z, a-z, 0-9, - and _');

const envSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and _, not starting with a digit'),
    z.string(),
  )
  .refine(
    (env) => Object.entries(env).reduce((sum, [k, v]) => sum + k.length + v.length, 0) <= MAX_ENV_BYTES,
    {
      message: `env may hold at most ${MAX_ENV_BYTES} bytes of names and values`,
    },
  );

/** Where an async invocation's record goes: another function, or an http(s) URL that receives it as JSON. */
const destinationSchema = z
  .string()
  .refine((value) => FUNCTION_NAME_PATTERN.test(value) || isHttpUrl(value), {
    message: 'a destination is a function name or an http(s) URL',
  });

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * A rate limit in the user's terms: `rate` per second sustained, `burst` at once (the bucket's size,
 * default `ceil(rate)`: one second's worth), `initialBurst` extra once. Parsed into core's policy.
 */
/** `{ rate, burst?, initialBurst? }` → a RateLimitPolicy (a function's, or an API key's). */
export const rateLimitSchema = z
  .strictObject({
    rate: z.number().positive().max(1_000_000),
    burst: z.number().int().min(1).max(1_000_000).optional(),
    initialBurst: z.number().int().min(0).max(1_000_000).default(0),
  })
  .transform(({ rate, burst, initialBurst }): RateLimitPolicy => ({
    ratePerSecond: rate,
    burst: burst ?? Math.ceil(rate),
    initialBurst,
  }));

/** The settings of a function that a deploy or a config update may set. */
export const functionSettingsSchema = z.strictObject({
  memoryMb: z.number().int().min(8).max(4096).optional(),
  /** Duration (`10s`) or milliseconds. */
  timeout: durationMs
    .refine((ms) => ms >= 1 && ms <= 900_000, { message: 'timeout must be between 1 ms and 15 min' })
    .optional(),
  env: envSchema.optional(),
  concurrency: z.number().int().min(1).max(10_000).optional(),
  /** The same as `concurrency` (the name the scheduler docs use); give one of the two. */
  maxConcurrency: z.number().int().min(1).max(10_000).optional(),
  /**
   * Requests one instance serves at once (1-1000): only for isolate bundles with a `fetch` handler, whose
   * requests share the instance's isolate. 1 (the default) serves one at a time.
   */
  instanceConcurrency: z.number().int().min(1).max(1000).optional(),
  /** Executions reserved for this function out of the node's total, and its cap; null or 0 removes it. */
  reservedConcurrency: z.number().int().min(0).max(100_000).nullable().optional(),
  /** Instances of the latest version kept warm (provisioned concurrency); 0 stops. */
  minInstances: z.number().int().min(0).max(10_000).optional(),
  description: z.string().max(256).optional(),
  /** Async invocations: retries after a failed attempt (Lambda: 0-2; Strato allows up to 10). */
  asyncRetries: z.number().int().min(0).max(10).optional(),
  /** Async invocations older than this are dead-lettered unrun (1 s to 6 h; Lambda's minimum is 60 s). */
  maxEventAge: durationMs
    .refine((ms) => ms >= 1000 && ms <= 6 * 60 * 60 * 1000, {
      message: 'maxEventAge must be between 1 s and 6 h',
    })
    .optional(),
  /** Destination of successful async invocations' records (a function name or an http(s) URL); null clears. */
  onSuccess: destinationSchema.nullable().optional(),
  /** Destination of dead-lettered async invocations' records; null clears. */
  onFailure: destinationSchema.nullable().optional(),
  /** Invocations per second, as a token bucket (`{ rate, burst?, initialBurst? }`); null removes the limit. */
  rateLimit: rateLimitSchema.nullable().optional(),
  /** Hosts outbound `fetch` may reach (`api.example.com`, `*.example.com`, `host:8443`); [] or null: none. */
  egress: z
    .array(
      z
        .string()
        .max(260)
        .transform((pattern) => pattern.toLowerCase())
        .pipe(
          z
            .string()
            .regex(
              EGRESS_PATTERN,
              'egress patterns are a host name or IP, or *.domain, with an optional :port',
            ),
        ),
    )
    .max(50)
    .nullable()
    .optional(),
  /** `/fn/<name>`: `public` (anyone) or `key` (an API key with the invoke scope). */
  httpAuth: z.enum(['public', 'key']).optional(),
});

export const registryAuthSchema = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

/** `PUT /v1/functions/:name` and `POST /v1/functions`: code plus settings. */
/**
 * Lambda runtimes the process tier runs: custom runtimes (a zip with an executable `bootstrap`) and the
 * managed Node.js ones (a zip with the handler's module, run by Strato's runtime client).
 */
export const PROCESS_RUNTIMES = ['provided.al2023', 'provided.al2', ...NODE_RUNTIMES] as const;

const deployFields = functionSettingsSchema.extend({
  /** A self-contained CommonJS bundle (what `strato deploy` produces with esbuild): the isolate tier. */
  code: z.string().min(1, 'code must not be empty').optional(),
  /** Source map (JSON text) of the bundle, for stack traces in the user's sources. */
  sourceMap: z.string().nullable().optional(),
  /** A zip (base64), as Lambda's ZipFile: the process tier (an executable `bootstrap`, or a Node.js handler's code). */
  zipFile: z.base64().min(1, 'zipFile must not be empty').optional(),
  runtime: z.enum(PROCESS_RUNTIMES).optional(),
  handler: z.string().min(1).max(128).optional(),
  /**
   * A container image: a registry reference (`127.0.0.1:5000/team/fn:tag`, resolved to its digest now), or the
   * `imageId` (`sha256:...`) of an image already pulled or imported (`POST /v1/images/...`). The container tier.
   */
  image: z.string().min(1).max(512).optional(),
  /** Credentials for this deploy's pull (never stored; re-pulls use the server's `registries`). */
  registryAuth: registryAuthSchema.optional(),
});

/** One of `code` (JavaScript bundle) or `zipFile` + `runtime` (custom runtime), never both. */
function checkCodeKind(body: z.output<typeof deployFields>, ctx: z.RefinementCtx): void {
  const kinds = [body.code, body.zipFile, body.image].filter((kind) => kind !== undefined).length;
  if (kinds !== 1) {
    ctx.addIssue({
      code: 'custom',
      message:
        'give exactly one of `code` (a JavaScript bundle), `zipFile` (a zip, base64) or `image` (a container image)',
    });
  }
  if (body.image !== undefined && (body.runtime !== undefined || body.handler !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['image'],
      message: 'an image brings its own entrypoint: runtime and handler go with a zipFile',
    });
  }
  if (body.image !== undefined && body.sourceMap !== undefined && body.sourceMap !== null) {
    ctx.addIssue({
      code: 'custom',
      path: ['sourceMap'],
      message: 'a source map goes with code, not an image',
    });
  }
  if (body.registryAuth !== undefined && body.image === undefined) {
    ctx.addIssue({ code: 'custom', path: ['registryAuth'], message: 'registryAuth goes with an image' });
  }
  if (body.zipFile !== undefined && body.runtime === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['runtime'],
      message: `a zipFile needs a runtime: ${PROCESS_RUNTIMES.join(' or ')}`,
    });
  }
  if (body.code !== undefined && (body.runtime !== undefined || body.handler !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['runtime'],
      message: 'runtime and handler go with a zipFile, not with code',
    });
  }
  if (body.runtime !== undefined && isNodeRuntime(body.runtime)) {
    // As on Lambda: the managed runtimes need to know which export to call; custom runtimes may ignore it.
    const handler = nodeHandlerSchema.safeParse(body.handler);
    if (body.handler === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['handler'],
        message: `runtime ${body.runtime} needs a handler: path/to/file.exportName, e.g. index.handler`,
      });
    } else if (!handler.success) {
      for (const issue of handler.error.issues) {
        ctx.addIssue({ code: 'custom', path: ['handler'], message: issue.message });
      }
    }
  }
}

export const deployBodySchema = deployFields.superRefine(checkCodeKind);

export const createBodySchema = deployFields.extend({ name: functionNameSchema }).superRefine(checkCodeKind);

export type FunctionSettings = z.output<typeof functionSettingsSchema>;
export type DeployBody = z.output<typeof deployBodySchema>;

export const aliasNameSchema = z
  .string()
  .regex(
    ALIAS_NAME_PATTERN,
    'alias names are 1-128 characters of A-Z, a-z, 0-9, - and _, and not only digits',
  );

const versionNumberSchema = z.number().int().min(1);

/**
 * Lambda's `RoutingConfig.AdditionalVersionWeights`: at most one extra version, keyed by its number as
 * a string, with the share of requests (0-1) it gets.
 */
const additionalVersionWeightsSchema = z
  .record(z.string().regex(/^[1-9]\d{0,9}$/, 'keys are version numbers'), z.number().min(0).max(1))
  .refine((weights) => Object.keys(weights).length <= 1, {
    message: 'at most one additional version (as in Lambda)',
  });

/** An additional version equal to the primary one would be a split that splits nothing. */
function extraIsNotPrimary(body: {
  functionVersion?: number | undefined;
  additionalVersionWeights?: Record<string, number> | undefined;
}): boolean {
  return (
    body.functionVersion === undefined ||
    body.additionalVersionWeights === undefined ||
    !Object.hasOwn(body.additionalVersionWeights, String(body.functionVersion))
  );
}

const extraIsNotPrimaryIssue = {
  message: 'the additional version must differ from functionVersion',
  path: ['additionalVersionWeights'],
};

/** `POST /v1/functions/:name/aliases`. */
export const aliasCreateBodySchema = z
  .strictObject({
    name: aliasNameSchema,
    functionVersion: versionNumberSchema,
    additionalVersionWeights: additionalVersionWeightsSchema.default({}),
    description: z.string().max(256).default(''),
  })
  .refine(extraIsNotPrimary, extraIsNotPrimaryIssue);

/**
 * `PUT /v1/functions/:name/aliases/:alias`: a partial update; absent fields keep their value, and
 * `additionalVersionWeights: {}` removes the split. The store checks the merged alias again.
 */
export const aliasUpdateBodySchema = z
  .strictObject({
    functionVersion: versionNumberSchema.optional(),
    additionalVersionWeights: additionalVersionWeightsSchema.optional(),
    description: z.string().max(256).optional(),
  })
  .refine(extraIsNotPrimary, extraIsNotPrimaryIssue);

export type AliasCreateBody = z.output<typeof aliasCreateBodySchema>;
export type AliasUpdateBody = z.output<typeof aliasUpdateBodySchema>;
