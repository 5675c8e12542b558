/** The type-specific entry lists of inspect.ts: arrays (with holes), typed arrays, buffers, maps, sets. */
import { formatProperty, formatValue, type InspectContext } from './inspect.js';
import { ARRAY_EXTRAS_TYPE } from './inspect-layout.js';
import { formatNumber } from './inspect-primitives.js';

export type Formatter = (ctx: InspectContext, value: object, recurseTimes: number) => string[];

function remainingText(remaining: number): string {
  return `... ${remaining} more item${remaining > 1 ? 's' : ''}`;
}

const indexKey = /^(0|[1-9][0-9]*)$/;

export const formatArray: Formatter = (ctx, value, recurseTimes) => {
  const array = value as unknown[];
  const length = Math.min(ctx.maxArrayLength, array.length);
  const output: string[] = [];
  for (let i = 0; i < length; i++) {
    if (!Object.prototype.hasOwnProperty.call(array, i))
      return formatSparseArray(ctx, array, recurseTimes, length, output, i);
    output.push(formatProperty(ctx, array, recurseTimes, String(i), ARRAY_EXTRAS_TYPE));
  }
  if (array.length > length) output.push(remainingText(array.length - length));
  return output;
};

/** Arrays with holes: runs of missing indices become `<n empty items>`. */
function formatSparseArray(
  ctx: InspectContext,
  array: unknown[],
  recurseTimes: number,
  maxLength: number,
  output: string[],
  start: number,
): string[] {
  const keys = Object.keys(array);
  let index = start;
  for (let i = start; i < keys.length && output.length < maxLength; i++) {
    const key = keys[i] as string;
    const position = Number(key);
    if (position > 2 ** 32 - 2) break;
    if (`${index}` !== key) {
      if (!indexKey.test(key)) break;
      const empty = position - index;
      output.push(`<${empty} empty item${empty > 1 ? 's' : ''}>`);
      index = position;
      if (output.length === maxLength) break;
    }
    output.push(formatProperty(ctx, array, recurseTimes, key, ARRAY_EXTRAS_TYPE));
    index++;
  }
  const remaining = array.length - index;
  if (output.length !== maxLength) {
    if (remaining > 0) output.push(`<${remaining} empty item${remaining > 1 ? 's' : ''}>`);
  } else if (remaining > 0) {
    output.push(remainingText(remaining));
  }
  return output;
}

export const formatTypedArray: Formatter = (ctx, value) => {
  const view = value as unknown as ArrayLike<number | bigint>;
  const length = Math.min(ctx.maxArrayLength, view.length);
  const output: string[] = [];
  for (let i = 0; i < length; i++) {
    const item = view[i] as number | bigint;
    output.push(typeof item === 'bigint' ? `${item}n` : formatNumber(item));
  }
  if (view.length > length) output.push(remainingText(view.length - length));
  return output;
};

export const formatArrayBuffer: Formatter = (ctx, value) => {
  const bytes = new Uint8Array(value as ArrayBuffer);
  const shown: string[] = [];
  for (let i = 0; i < Math.min(ctx.maxArrayLength, bytes.length); i++) {
    shown.push(((bytes[i] as number) + 0x100).toString(16).slice(1));
  }
  let contents = shown.join(' ');
  const remaining = bytes.length - ctx.maxArrayLength;
  if (remaining > 0) contents += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
  return [`[Uint8Contents]: <${contents}>`];
};

export const formatSetEntries: Formatter = (ctx, value, recurseTimes) => {
  const output: string[] = [];
  ctx.indentationLvl += 2;
  for (const entry of value as Set<unknown>) {
    if (output.length >= ctx.maxArrayLength) break;
    output.push(formatValue(ctx, entry, recurseTimes));
  }
  const size = (value as Set<unknown>).size;
  if (size > ctx.maxArrayLength) output.push(remainingText(size - ctx.maxArrayLength));
  ctx.indentationLvl -= 2;
  return output;
};

export const formatMapEntries: Formatter = (ctx, value, recurseTimes) => {
  const output: string[] = [];
  ctx.indentationLvl += 2;
  for (const [key, entry] of value as Map<unknown, unknown>) {
    if (output.length >= ctx.maxArrayLength) break;
    output.push(`${formatValue(ctx, key, recurseTimes)} => ${formatValue(ctx, entry, recurseTimes)}`);
  }
  const size = (value as Map<unknown, unknown>).size;
  if (size > ctx.maxArrayLength) output.push(remainingText(size - ctx.maxArrayLength));
  ctx.indentationLvl -= 2;
  return output;
};
