import type { FastifyInstance } from 'fastify';
import type { Store } from '../../core/store.js';
import type { InvocationRecord, LogLine } from '../../core/invocation.js';
import { StratoError } from '../../core/strato-error.js';
import type { InvocationRecorder } from '../../observe/invocation-recorder.js';
import { functionNameOf } from '../function-name.js';
import { namespacePrefix } from '../../core/namespace.js';
import { principalOf } from '../authentication.js';
import { withLocalNames } from '../local-names.js';

/** Comment lines keep proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/functions/:name/logs/follow`: the function's log lines as Server-Sent Events, live, as each
 * invocation settles (`event: log`, one JSON LogLine per event). A client that reads slower than the
 * function logs loses lines rather than slowing anything down: they are counted and reported in a
 * `dropped` event once the connection drains.
 */
export function registerLogFollowRoute(
  app: FastifyInstance,
  store: Store,
  recorder: InvocationRecorder,
): void {
  app.get('/v1/functions/:name/logs/follow', async (request, reply) => {
    const name = functionNameOf(request);
    const prefix = namespacePrefix(principalOf(request).namespace);
    if ((await store.getFunction(name)) === undefined) {
      throw new StratoError('FUNCTION_NOT_FOUND', `function '${name}' does not exist`);
    }
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    out.write(': following\n\n');
    let dropped = 0;
    let congested = false;
    const onRecord = (record: InvocationRecord, lines: LogLine[]) => {
      if (record.functionName !== name) return;
      for (const line of lines) {
        if (congested) {
          dropped++;
          continue;
        }
        congested = !out.write(`event: log\ndata: ${JSON.stringify(withLocalNames(line, prefix))}\n\n`);
      }
    };
    const onDrain = () => {
      congested = false;
      if (dropped > 0) {
        out.write(`event: dropped\ndata: ${JSON.stringify({ lines: dropped })}\n\n`);
        dropped = 0;
      }
    };
    const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), HEARTBEAT_MS);
    recorder.on('record', onRecord);
    out.on('drain', onDrain);
    request.raw.once('close', () => {
      clearInterval(heartbeat);
      recorder.off('record', onRecord);
      out.off('drain', onDrain);
    });
  });
}
