import { detectConfinement } from '../../src/sandbox/process/index.js';
import { describeConfinedEscapeCorpus } from './support/confined-escape.js';

// The sandbox-escape corpus against the process tier (confined Lambda custom runtimes).
//
// That a case can fail: `connect_host_unix_sockets` reached Postgres's /run/postgresql/.s.PGSQL.5432 (mode
// 0777) before the tier hid /run: a read-only bind does not stop connect() on a socket, and a network
// namespace does not scope filesystem sockets. Remove '/run' from the tier's always-hidden paths
// (src/sandbox/process/process-sandbox.ts) and that check reports ESCAPED with the socket's path.
const support = await detectConfinement();
describeConfinedEscapeCorpus('process', support.ok ? undefined : support.reason);
