import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/server.js';
import { allLogsOf, expectNoCanary, startCanaryServer, type CanaryServer } from './canary-server.js';
import { SYSCALL_CHECKS, syscallProbeBinary } from './syscall-probe.js';
import { deployShell, type ShellTier } from './tier-deploy.js';

interface ProbeReport {
  syscalls: Record<string, string>;
  /** base64 of `env` and every visible /proc/<pid>/environ and cmdline. */
  environ: string;
  /** base64 of a listing of the data dir and the head of the SQLite file and its WAL. */
  files: string;
}

/** The host's first external IPv4 address (where a listener on 0.0.0.0 answers), else loopback. */
function hostAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const external = addresses?.find((address) => address.family === 'IPv4' && !address.internal);
    if (external !== undefined) return external.address;
  }
  return '127.0.0.1';
}

/**
 * The sandbox-escape corpus for a confining tier (process or container): one function runs the static
 * syscall probe and a shell sweep of environments and the data dir, and every check must be denied.
 */
export function describeConfinedEscapeCorpus(tier: ShellTier, unavailable: string | undefined): void {
  describe.skipIf(unavailable !== undefined)(
    `${tier} tier: sandbox-escape corpus${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`,
    () => {
      let server: CanaryServer;
      let listener: Server;
      let report: ProbeReport;
      let rawResponse: string;
      let functionName: string;

      beforeAll(async () => {
        server = await startCanaryServer();
        // A listener on every host address: a sandbox with any route to the host would reach it.
        listener = createServer((socket) => socket.end('reached'));
        await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
        const hostPort = (listener.address() as { port: number }).port;
        const dbPath = path.join(server.dataDir, 'strato.db');
        const args = [process.pid, server.port, server.dataDir, dbPath, hostAddress(), hostPort].join(' ');
        const handler = `
P="\${LAMBDA_TASK_ROOT:-/var/task}"
SYS=$("$P/probe" ${args})
ENVS=$( { env; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f"; echo; done; } 2>/dev/null | base64 | tr -d '\\n')
FILES=$( { ls -A '${server.dataDir}'; head -c 4096 '${dbPath}'; head -c 65536 '${dbPath}-wal'; } 2>/dev/null | base64 | tr -d '\\n')
printf '{"syscalls":%s,"environ":"%s","files":"%s"}' "$SYS" "$ENVS" "$FILES"`;
        functionName = uniqueName(`esc-${tier}`);
        await deployShell(tier, server, functionName, handler, { probe: syscallProbeBinary() });
        const response = await server.client.invoke(functionName, '{}');
        rawResponse = response.body;
        expect(response.status, rawResponse).toBe(200);
        report = JSON.parse(rawResponse) as ProbeReport;
      }, 120_000);
      afterAll(async () => {
        await new Promise((resolve) => listener?.close(resolve));
        await server?.stop();
      });

      it.each(SYSCALL_CHECKS.map((check) => [check]))('%s is denied', (check) => {
        expect(report.syscalls[check], JSON.stringify(report.syscalls)).toMatch(/^denied:/);
      });

      it('sees no secret in any environment or command line it can read', () => {
        const environ = Buffer.from(report.environ, 'base64').toString('latin1');
        // The sweep worked: it read its own environment.
        expect(environ).toContain('AWS_LAMBDA_RUNTIME_API=');
        expectNoCanary(server, environ);
        expect(environ).not.toContain('STRATO_');
      });

      it('reads nothing of the data dir or the SQLite store', () => {
        const files = Buffer.from(report.files, 'base64').toString('latin1');
        expect(files).not.toContain('SQLite format');
        expect(files).not.toContain('strato.db');
        expectNoCanary(server, files);
      });

      it('leaks no canary into its response, its logs or any platform log line', async () => {
        expectNoCanary(server, rawResponse, await allLogsOf(server, functionName));
      });
    },
  );
}
