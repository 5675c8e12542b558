import { detectConfinement } from '../../src/sandbox/process/index.js';
import { startTestServer } from '../helpers/server.js';
import { describeAbuseCorpus } from './support/abuse-harness.js';
import { SHELL_LOG_LIMIT, shellAbuseCases, shellNeighbour } from './support/shell-abuse-cases.js';

// Resource abuse in the process tier. That a case can fail: without the instance's cgroup (memory, pids)
// the memory bombs would take the host's memory and the fork bomb its process table; without RLIMIT_NOFILE
// fd-exhaustion would report ENFILE (the host's table) or run out of the test's time.
const support = await detectConfinement();

describeAbuseCorpus({
  tier: 'process',
  unavailable: support.ok ? undefined : support.reason,
  startServer: () => startTestServer({ logLimitPerInvocation: SHELL_LOG_LIMIT }),
  deployNeighbour: shellNeighbour('process'),
  cases: shellAbuseCases('process', {
    forkBomb: { expectedStatus: 504, expectedCode: 'INVOCATION_TIMEOUT' },
  }),
});
