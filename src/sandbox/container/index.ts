/**
 * The container tier: container-image functions run by an OCI runtime (crun, else runc), one container per
 * instance speaking the AWS Lambda Runtime API (see container-sandbox.ts).
 */
export { ContainerSandbox, type ContainerSandboxOptions } from './container-sandbox.js';
export type { OciRuntimeInfo, OciRuntimeName } from './oci-runtime.js';
export { buildOciSpec, containerArgs, containerEnv, containerUid, type ContainerPlan } from './oci-spec.js';
