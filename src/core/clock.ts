/**
 * Time as the platform's background work sees it (cron slots, log retention, flood windows): injected, so
 * tests drive a fake clock and run instantly.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `callback` once after `delayMs`; the returned function cancels it. */
  setTimer(callback: () => void, delayMs: number): () => void;
}

/** Node's setTimeout stores delays in a signed 32-bit int: a longer one fires at once (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    // Unref'd: pending background work must not keep a closing process alive; the HTTP server keeps a running one.
    const timer = setTimeout(callback, Math.min(delayMs, MAX_TIMER_MS)).unref();
    return () => clearTimeout(timer);
  },
};
