import { z } from 'zod';

// Request bodies of the Lambda operations Strato serves. Objects are not strict: the SDK and tools send
// members Strato has no use for (Role, Tags, TracingConfig, ...), which Lambda users expect to be accepted.
// Members that would change behaviour Strato cannot provide are refused by the operations themselves.

const environment = z.object({ Variables: z.record(z.string(), z.string()).optional() });
/** Lambda: 128-10240 MB; Strato's instances go to 4096 MB (checked again by the deploy schema). */
const memorySize = z.number().int().min(128).max(10240);
/** Seconds, 1-900. */
const timeout = z.number().int().min(1).max(900);
const description = z.string().max(256);

const code = z.object({
  ZipFile: z.base64().optional(),
  S3Bucket: z.string().optional(),
  S3Key: z.string().optional(),
  S3ObjectVersion: z.string().optional(),
  ImageUri: z.string().optional(),
});

export const createFunctionSchema = z.object({
  FunctionName: z.string().min(1).max(140),
  Runtime: z.string().optional(),
  Handler: z.string().max(128).optional(),
  Code: code,
  Description: description.optional(),
  Timeout: timeout.optional(),
  MemorySize: memorySize.optional(),
  Publish: z.boolean().optional(),
  PackageType: z.enum(['Zip', 'Image']).optional(),
  Environment: environment.optional(),
});

export const updateFunctionCodeSchema = z.object({
  ZipFile: z.base64().optional(),
  S3Bucket: z.string().optional(),
  S3Key: z.string().optional(),
  ImageUri: z.string().optional(),
  Publish: z.boolean().optional(),
  DryRun: z.boolean().optional(),
});

export const updateFunctionConfigurationSchema = z.object({
  Runtime: z.string().optional(),
  Handler: z.string().max(128).optional(),
  Description: description.optional(),
  Timeout: timeout.optional(),
  MemorySize: memorySize.optional(),
  Environment: environment.optional(),
});

export const publishVersionSchema = z.object({
  CodeSha256: z.string().optional(),
  Description: description.optional(),
});

const routingConfig = z.object({
  AdditionalVersionWeights: z.record(z.string(), z.number()).optional(),
});

export const createAliasSchema = z.object({
  Name: z.string().min(1).max(128),
  FunctionVersion: z.string().min(1),
  Description: description.optional(),
  RoutingConfig: routingConfig.optional(),
});

export const updateAliasSchema = z.object({
  FunctionVersion: z.string().min(1).optional(),
  Description: description.optional(),
  RoutingConfig: routingConfig.optional(),
});

/** Query parameters of the list operations (MaxItems: Lambda allows 1-10000). */
export const listQuerySchema = z.object({
  Marker: z.string().max(1024).optional(),
  MaxItems: z.coerce.number().int().min(1).max(10_000).optional(),
});

export const invocationTypeSchema = z.enum(['RequestResponse', 'Event', 'DryRun']);
export const logTypeSchema = z.enum(['None', 'Tail']);

export type CreateFunctionRequest = z.output<typeof createFunctionSchema>;
export type UpdateFunctionCodeRequest = z.output<typeof updateFunctionCodeSchema>;
export type UpdateFunctionConfigurationRequest = z.output<typeof updateFunctionConfigurationSchema>;
