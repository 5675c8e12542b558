/** Values shorter than this are not redacted: blanking every "1" or "on" would wreck ordinary log text. */
export const MIN_REDACTED_LENGTH = 4;

export const REDACTED = '[REDACTED]';

/**
 * Replaces a function's secret values in text it produced (log lines, error messages and stacks) before
 * the text is stored, tailed or returned. Exact matches only, plus each value as it appears inside a JSON
 * string (so `console.log(JSON.stringify(obj))` is covered); an encoded or split value is not caught.
 */
export class SecretRedactor {
  private readonly needles: string[];

  constructor(values: Iterable<string>) {
    const needles = new Set<string>();
    for (const value of values) {
      if (value.length < MIN_REDACTED_LENGTH) continue;
      needles.add(value);
      needles.add(JSON.stringify(value).slice(1, -1));
    }
    // Longest first, so a value that contains another is replaced whole.
    this.needles = [...needles].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  redact(text: string): string {
    let out = text;
    for (const needle of this.needles) if (out.includes(needle)) out = out.replaceAll(needle, REDACTED);
    return out;
  }
}
