import http from 'node:http';
import https from 'node:https';

/** How one export request ended, after its retries. */
export type OtlpPostResult = { kind: 'sent' } | { kind: 'failed'; reason: string };

/** The SDK exporter's retry policy (otlp-exporter-base), kept so a collector sees the same behaviour. */
const MAX_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_NETWORK_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

type Attempt = { kind: 'sent' } | { kind: 'retryable' | 'failed'; reason: string; retryAfterMs?: number };

/**
 * POSTs one OTLP/HTTP export body to a collector, on a keep-alive connection, retrying what OTLP calls
 * retryable (429, 502, 503, 504, a refused or reset connection, a timeout) with jittered exponential
 * backoff or the collector's Retry-After, until `deadline` (epoch ms). Never throws: a collector that is
 * down costs spans, never an invocation.
 */
export class OtlpHttpPoster {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;

  constructor(url: string) {
    this.url = new URL(url);
    const secure = this.url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.send = secure ? https.request : http.request;
  }

  async post(body: string | Uint8Array, contentType: string, deadline: number): Promise<OtlpPostResult> {
    // Converted once: retries resend the same bytes, and the length needs them anyway.
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    let backoffMs = INITIAL_BACKOFF_MS;
    for (let retries = 0; ; retries++) {
      const attempt = await this.attempt(bytes, contentType, deadline - Date.now());
      if (attempt.kind === 'sent') return attempt;
      if (attempt.kind === 'failed' || retries === MAX_RETRIES)
        return { kind: 'failed', reason: attempt.reason };
      const jitter = 1 + (Math.random() * 0.4 - 0.2);
      const waitMs = attempt.retryAfterMs ?? Math.min(backoffMs * jitter, MAX_BACKOFF_MS);
      backoffMs *= BACKOFF_MULTIPLIER;
      if (Date.now() + waitMs >= deadline) return { kind: 'failed', reason: attempt.reason };
      await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    }
  }

  /** Closes the kept-alive connections (at shutdown, so no socket outlives the server). */
  close(): void {
    this.agent.destroy();
  }

  private attempt(body: Uint8Array, contentType: string, timeoutMs: number): Promise<Attempt> {
    if (timeoutMs <= 0) return Promise.resolve({ kind: 'failed', reason: 'export deadline passed' });
    return new Promise((resolve) => {
      const request = this.send(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': contentType,
            'content-length': body.length,
            'user-agent': 'strato',
          },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          // The body (a partial-success report at most) is not read: only the status decides.
          response.resume();
          response.on('end', () => {
            if (status >= 200 && status <= 299) resolve({ kind: 'sent' });
            else if (RETRYABLE_STATUS.has(status)) {
              const retryAfterMs = retryAfter(response.headers['retry-after']);
              resolve({
                kind: 'retryable',
                reason: `collector answered ${status}`,
                ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
              });
            } else resolve({ kind: 'failed', reason: `collector answered ${status}` });
          });
        },
      );
      request.setTimeout(timeoutMs, () => {
        request.destroy();
        resolve({ kind: 'retryable', reason: 'export request timed out' });
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        const retryable = error.code !== undefined && RETRYABLE_NETWORK_ERRORS.has(error.code);
        resolve({ kind: retryable ? 'retryable' : 'failed', reason: error.message });
      });
      request.end(body);
    });
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
function retryAfter(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number.parseInt(header, 10);
  if (Number.isInteger(seconds)) return Math.max(seconds, 0) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(at - Date.now(), 0);
}
