let counter = 0;

/** Cheap ids, unique per process: they only correlate logs with responses. */
export function nextRequestId(): string {
  return `req-${(++counter).toString(36)}`;
}
