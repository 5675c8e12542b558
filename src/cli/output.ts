import { isStratoError } from '../core/strato-error.js';

/** Prints rows as an aligned table (human output); `--json` prints the raw value instead. */
export function printTable(rows: ReadonlyArray<object>, columns: string[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const cells = rows.map((row) =>
    columns.map((column) => formatCell((row as Record<string, unknown>)[column])),
  );
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  console.log(columns.map((column, i) => column.toUpperCase().padEnd(widths[i]!)).join('  '));
  for (const line of cells) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Reports a failed command: `code: message`, and exit status 1. */
export function fail(error: unknown): never {
  if (isStratoError(error)) console.error(`error ${error.code}: ${error.message}`);
  else console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
