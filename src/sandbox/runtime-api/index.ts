/**
 * The AWS Lambda Runtime API that Strato serves to each instance of a non-isolate tier, and the standard
 * Lambda environment such an instance's runtime is started with.
 */
export {
  RuntimeApiEndpoint,
  type RuntimeApiEndpointOptions,
  type RuntimeApiListen,
  type RuntimeInvocationRequest,
  type RuntimeInvocationResult,
} from './runtime-api-endpoint.js';
export { lambdaEnvironment, lambdaLogStreamName, type LambdaEnvironmentMeta } from './lambda-environment.js';
