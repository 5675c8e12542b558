/**
 * A port of the parts of Node's `util.inspect` that console output relies on (no colors, no proxies,
 * no getters evaluation). Layout lives in inspect-layout.ts, primitives in inspect-primitives.ts,
 * what each type shows in inspect-shape.ts and inspect-entries.ts.
 */
import { ARRAY_EXTRAS_TYPE, reduceToSingleString, type LayoutContext } from './inspect-layout.js';
import { formatKey, formatPrimitive, type PrimitiveContext } from './inspect-primitives.js';
import { describeShape } from './inspect-shape.js';
import { getConstructorName, getPrefix } from './inspect-types.js';
import { inspectSymbol } from './inspect-view.js';
import { ReflectApply } from './intrinsics.js';

export interface InspectOptions {
  /** @default 2 */
  depth?: number;
  /** Also list non-enumerable own properties. @default false */
  showHidden?: boolean;
  /** @default 80 */
  breakLength?: number;
}

export interface InspectContext extends LayoutContext, PrimitiveContext {
  depth: number;
  showHidden: boolean;
  maxStringLength: number;
  seen: object[];
  circular: Map<object, number> | undefined;
}

export function inspect(value: unknown, options: InspectOptions = {}): string {
  const ctx: InspectContext = {
    depth: options.depth ?? 2,
    showHidden: options.showHidden ?? false,
    breakLength: options.breakLength ?? 80,
    compact: 3,
    maxArrayLength: 100,
    maxStringLength: 10000,
    indentationLvl: 0,
    currentDepth: 0,
    seen: [],
    circular: undefined,
  };
  return formatValue(ctx, value, 0);
}

export function formatValue(ctx: InspectContext, value: unknown, recurseTimes: number): string {
  if (typeof value !== 'object' && typeof value !== 'function') return formatPrimitive(value, ctx);
  if (value === null) return 'null';
  const custom = (value as Record<symbol, unknown>)[inspectSymbol];
  const constructor = (value as { constructor?: { prototype?: unknown } }).constructor;
  if (typeof custom === 'function' && !(constructor && constructor.prototype === value)) {
    const depth = ctx.depth - recurseTimes;
    const result: unknown = ReflectApply(custom, value, [
      depth,
      { depth, showHidden: ctx.showHidden },
      inspect,
    ]);
    if (result !== value) {
      if (typeof result !== 'string') return formatValue(ctx, result, recurseTimes);
      return result.replaceAll('\n', `\n${' '.repeat(ctx.indentationLvl)}`);
    }
  }
  if (ctx.seen.includes(value)) {
    ctx.circular ??= new Map();
    let index = ctx.circular.get(value);
    if (index === undefined) {
      index = ctx.circular.size + 1;
      ctx.circular.set(value, index);
    }
    return `[Circular *${index}]`;
  }
  return formatRaw(ctx, value, recurseTimes);
}

function formatRaw(ctx: InspectContext, value: object, recurseTimes: number): string {
  const constructor = getConstructorName(value);
  const shape = describeShape(ctx, value, constructor, recurseTimes);
  if (typeof shape === 'string') return shape;
  let { base } = shape;
  if (recurseTimes > ctx.depth) {
    const name = getPrefix(constructor, shape.tag, 'Object').slice(0, -1);
    return constructor !== null ? `[${name}]` : name;
  }
  recurseTimes += 1;
  ctx.seen.push(value);
  ctx.currentDepth = recurseTimes;
  const output = shape.formatter(ctx, value, recurseTimes);
  for (const key of shape.keys) output.push(formatProperty(ctx, value, recurseTimes, key, shape.extrasType));
  const index = ctx.circular?.get(value);
  if (index !== undefined) base = base === '' ? `<ref *${index}>` : `<ref *${index}> ${base}`;
  ctx.seen.pop();
  return reduceToSingleString(ctx, output, base, shape.braces, shape.extrasType, recurseTimes, value);
}

export function formatProperty(
  ctx: InspectContext,
  value: object,
  recurseTimes: number,
  key: string | symbol,
  type: number,
): string {
  const descriptor = Object.getOwnPropertyDescriptor(value, key) ?? {
    value: (value as Record<string | symbol, unknown>)[key],
    enumerable: true,
  };
  let str: string;
  if (descriptor.value !== undefined) {
    ctx.indentationLvl += 2;
    str = formatValue(ctx, descriptor.value, recurseTimes);
    ctx.indentationLvl -= 2;
  } else if (descriptor.get !== undefined) {
    str = descriptor.set !== undefined ? '[Getter/Setter]' : '[Getter]';
  } else if (descriptor.set !== undefined) {
    str = '[Setter]';
  } else {
    str = 'undefined';
  }
  if (type === ARRAY_EXTRAS_TYPE && typeof key === 'string' && /^(0|[1-9][0-9]*)$/.test(key)) return str;
  return `${formatKey(key, descriptor.enumerable !== false)}: ${str}`;
}
