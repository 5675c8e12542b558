import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve('bin/strato.js');

/** A Strato server in its own OS process (from dist/), as users run it: for tests that kill it. */
export interface ServerProcess {
  url: string;
  /** Its admin key (STRATO_ADMIN_KEY, made up here unless `env` names one). */
  apiKey: string;
  child: ChildProcess;
  /** SIGKILL: no shutdown, no flush. */
  kill(): Promise<void>;
  /** SIGTERM, graceful. */
  stop(): Promise<void>;
}

export async function startServerProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const apiKey = env['STRATO_ADMIN_KEY'] ?? `strato_sk_test_${randomBytes(24).toString('base64url')}`;
  const child = spawn(process.execPath, [BIN, 'server', '--port', '0', ...args], {
    env: { ...process.env, STRATO_LOG_LEVEL: 'warn', ...env, STRATO_ADMIN_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}: ${output}`)));
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    url,
    apiKey,
    child,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
