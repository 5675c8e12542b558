import { existsSync } from 'node:fs';
import { startTestServer } from '../helpers/server.js';
import { describeAbuseCorpus } from './support/abuse-harness.js';
import { SHELL_LOG_LIMIT, shellAbuseCases, shellNeighbour } from './support/shell-abuse-cases.js';

// Resource abuse in the container tier (busybox image). That a case can fail: without the container's
// memory and pids limits (src/sandbox/container/oci-spec.ts) the bombs take the host's memory and process
// table; without the tmpfs size, tmp-fill writes its 4 GiB into the host's RAM.
const runtime = ['/usr/bin/crun', '/usr/sbin/runc', '/usr/bin/runc'].find((file) => existsSync(file));

describeAbuseCorpus({
  tier: 'container',
  unavailable: runtime === undefined ? 'neither crun nor runc is installed' : undefined,
  startServer: () => startTestServer({ logLimitPerInvocation: SHELL_LOG_LIMIT }),
  deployNeighbour: shellNeighbour('container'),
  cases: shellAbuseCases('container', {
    forkBomb: { expectedStatus: 504, expectedCode: 'INVOCATION_TIMEOUT' },
  }),
});
