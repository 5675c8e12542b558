import { BENCH_API_KEY } from './bench-key.js';
import { spawn, type ChildProcess } from 'node:child_process';

// Servers the benches start in their own processes (Strato from dist, the raw node:http baseline).

/** Starts a process that prints `listening on <url>` (Strato's server, the raw node:http baseline). */
export function startListening(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, STRATO_ADMIN_KEY: BENCH_API_KEY, ...env },
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited with ${String(code)}: ${output}`)),
    );
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
