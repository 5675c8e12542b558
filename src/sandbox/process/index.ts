/**
 * The confinement layer of the process sandbox tier: detect what the host offers, create per-instance
 * cgroups, and start one command confined like a container (namespaces, read-only root, cgroup limits,
 * rlimits, an unprivileged uid).
 */
export {
  confinementTools,
  detectConfinement,
  type CgroupLayout,
  type ConfinementSupport,
} from './host-capabilities.js';
export { InstanceCgroup, type CgroupLimits, type OomState } from './cgroup.js';
export {
  spawnConfined,
  type ConfinedExit,
  type ConfinedProcess,
  type ConfinedProcessOptions,
  type ExtraBind,
} from './confined-process.js';
export { setupFailedExitCode } from './setup-script.js';
export { ProcessSandbox } from './process-sandbox.js';
