import type { TestServer } from '../../helpers/server.js';
import { logFloodCase, type AbuseCase } from './abuse-harness.js';
import { compileStatic } from './syscall-probe.js';
import { deployShell, type ShellFunctionSettings, type ShellTier } from './tier-deploy.js';

/** What a shell cannot do by itself: hold fds, and allocate memory at once or bit by bit. */
const ABUSE_SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fds") == 0) {
    int opened = 0;
    while (open("/dev/null", O_RDONLY) >= 0) opened++;
    printf("{\"opened\":%d,\"error\":\"%s\"}", opened, strerrorname_np(errno));
    return 0;
  }
  if (argc > 2 && strcmp(argv[1], "alloc") == 0) {
    size_t bytes = (size_t)atol(argv[2]) << 20;
    char *p = malloc(bytes);
    if (p == NULL) { printf("{\"error\":\"ENOMEM\"}"); return 0; }
    // Through a volatile pointer: gcc drops a memset of memory that is never read.
    for (size_t i = 0; i < bytes; i += 4096) ((volatile char *)p)[i] = 1;
    printf("{\"survived\":%zu}", bytes);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "grow") == 0) {
    for (size_t mib = 0;; mib++) {
      char *p = malloc(1 << 20);
      if (p == NULL) { printf("{\"grew\":%zu}", mib); return 0; }
      for (size_t i = 0; i < (1 << 20); i += 4096) ((volatile char *)p)[i] = 1;
    }
  }
  return 2;
}
`;

let abuseBinary: Buffer | undefined;

const LOG_LIMIT = 64 * 1024;

/** The log limit the shell corpora's servers run with. */
export const SHELL_LOG_LIMIT = LOG_LIMIT;

function shell(tier: ShellTier, handler: string, settings: ShellFunctionSettings = {}): AbuseCase['deploy'] {
  return async (server: TestServer, name: string) => {
    abuseBinary ??= compileStatic(ABUSE_SOURCE);
    await deployShell(tier, server, name, handler, { abuse: abuseBinary }, settings);
  };
}

const BIN = '"${LAMBDA_TASK_ROOT:-/var/task}/abuse"';

/** The neighbour of the shell corpora: answers at once. */
export function shellNeighbour(tier: ShellTier): AbuseCase['deploy'] {
  return shell(tier, `printf '"ok"'`);
}

/** Outcomes that may differ by tier. */
export interface ShellTierOutcomes {
  forkBomb: Pick<AbuseCase, 'expectedStatus' | 'expectedCode' | 'expectedBody'>;
}

/** Resource abuse as a process or container function (the same shell and binaries on both tiers). */
export function shellAbuseCases(tier: ShellTier, outcomes: ShellTierOutcomes): AbuseCase[] {
  return [
    {
      id: 'busy-loop',
      deploy: shell(tier, 'while :; do :; done', { timeout: '2s' }),
      expectedStatus: 504,
      expectedCode: 'INVOCATION_TIMEOUT',
    },
    {
      id: 'background-spinners',
      deploy: shell(tier, 'for i in 1 2 3 4; do (while :; do :; done) & done; wait', { timeout: '2s' }),
      expectedStatus: 504,
      expectedCode: 'INVOCATION_TIMEOUT',
    },
    {
      id: 'memory-bomb-gradual',
      deploy: shell(tier, `${BIN} grow`, { memoryMb: 128 }),
      expectedStatus: 502,
      expectedCode: 'OUT_OF_MEMORY',
    },
    {
      id: 'memory-bomb-one-allocation',
      deploy: shell(tier, `${BIN} alloc 2048`, { memoryMb: 128 }),
      expectedStatus: 502,
      expectedCode: 'OUT_OF_MEMORY',
    },
    {
      id: 'fork-bomb',
      deploy: shell(tier, 'bomb() { bomb | bomb & }; bomb; sleep 5', { timeout: '3s' }),
      ...outcomes.forkBomb,
    },
    {
      id: 'fd-exhaustion',
      deploy: shell(tier, `${BIN} fds`),
      expectedStatus: 200,
      expectedCode: null,
      expectedBody: /"error":"EMFILE"/,
    },
    {
      id: 'tmp-fill',
      deploy: shell(
        tier,
        // Removed again: the runtime loop keeps its own files in /tmp and could not answer from a full disk.
        `dd if=/dev/zero of=/tmp/fill bs=1048576 count=4096 2>/dev/null; n=$(wc -c < /tmp/fill); rm -f /tmp/fill; printf '{"written":%s}' "$n"`,
        // More memory than /tmp holds: tmpfs pages count against the memory limit, and with less memory than
        // /tmp the writer is OOM-killed (or stalls in reclaim until its timeout) before the tmpfs is full.
        { memoryMb: 1024, timeout: '20s' },
      ),
      expectedStatus: 200,
      expectedCode: null,
      // The 512 MiB tmpfs, less the runtime loop's few files.
      expectedBody: /"written":53\d{7}\}/,
    },
    logFloodCase(
      shell(tier, `yes 'flood flood flood flood' | head -c 20000000 >&3; printf '"flooded"'`),
      LOG_LIMIT,
    ),
  ];
}
