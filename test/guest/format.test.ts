import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { format } from 'node:util';
import { createWebIsolate, runInNode, type WebIsolate } from './harness.js';

let isolate: WebIsolate;
beforeAll(async () => {
  isolate = await createWebIsolate();
});
afterAll(() => isolate.dispose());

/** Formats the arguments `argsSource` builds, in the isolate and with Node's util.format. */
async function compareFormat(argsSource: string): Promise<void> {
  const guest = await isolate.run(`return __test.formatLogArgs(${argsSource});`);
  const args = runInNode(`return ${argsSource};`) as unknown[];
  expect(guest).toBe(format(...args));
}

describe('formatLogArgs matches util.format', () => {
  it.each([
    `['plain string']`,
    `['a', 'b', 1, true, null, undefined]`,
    `[1, -0, 1n, NaN, Infinity, Symbol('s')]`,
    `['%s and %s', 'one', 2, 'extra']`,
    `['%s', 10n]`,
    `['%s', -0]`,
    `['%s', { a: [1, { b: 2 }] }]`,
    `['%s', [1, [2, [3]]]]`,
    `['%s', { toString() { return 'custom'; } }]`,
    `['%s', new (class Thing { toString() { return 'thing'; } })()]`,
    `['%s', Symbol('sym')]`,
    `['%d %d %d %d', '42', 1.5, 10n, {}]`,
    `['%i %i %i', '42.9x', -1.5, 10n]`,
    `['%f %f', '1.5e3', 'abc']`,
    `['%j', { a: 1, b: [1, 2] }]`,
    `['%j', undefined]`,
    `['%O', { a: { b: { c: { d: 1 } } } }]`,
    `['%c styled', 'color: red']`,
    `['100%% done %s', 'ok']`,
    `['%s:%s', 'only one']`,
    `['%x %s', 'unknown placeholder']`,
    `['trailing %']`,
    `['%s']`,
    `[{ a: 1, 'b-c': 2, 3: 'num', valid_id: true }]`,
    `[{ a: { b: { c: { d: 1 } } } }]`,
    `[{ a: { b: { c: {} } } }]`,
    `[[[[[1]]]]]`,
    `[{ a: [1, 2, { b: { c: 1 } }] }]`,
    `[Array.from({ length: 30 }, (_, i) => i)]`,
    `[Array.from({ length: 120 }, (_, i) => i * 3)]`,
    `[Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))]`,
    `[['aaaaaaaaaaaaaaaaaaaa', 'b', 'c', 'd', 'e', 'f', 'g']]`,
    `[[1, , 3, , , 6, ,]]`,
    `[new Array(5)]`,
    `[Object.assign([1, 2], { k: 'v' })]`,
    `[new Map([[1, { a: 1 }], ['k', [1, 2]]]), new Set(['x', 1])]`,
    `[new Map(), new Set(), {}, []]`,
    `[new Date(0), new Date(NaN), /re+/gi]`,
    `[function named() {}, () => {}, async function af() {}, function* gen() {}, async function* ag() {}]`,
    `[class A {}, class B extends Array {}, Object.assign(function f() {}, { prop: 1 })]`,
    `[{ f() {}, g: () => 1 }]`,
    `[(() => { const c = { a: 1 }; c.self = c; return c; })()]`,
    `[(() => { const a = { name: 'a' }; const b = { a }; a.b = b; return [a, b]; })()]`,
    `[{ get g() { return 1; }, set s(v) {}, get gs() { return 1; }, set gs(v) {} }]`,
    `[{ [Symbol('k')]: 1, [Symbol.iterator]: 2 }]`,
    `[Object.create(null)]`,
    `[Object.assign(Object.create(null), { x: 1 })]`,
    `[new (class Foo { constructor() { this.x = 1; } })()]`,
    `[new (class Empty {})()]`,
    `[new Uint8Array([1, 2, 3]), new Float64Array([1.5, -0]), new BigInt64Array([1n]), new Uint8Array(0)]`,
    `[new Uint8Array(150)]`,
    `[new ArrayBuffer(3), new DataView(new ArrayBuffer(2))]`,
    `[new Uint8Array(120).buffer]`,
    `[Object(1), Object('str'), Object(true), Object(2n)]`,
    `[new WeakMap(), new WeakSet()]`,
    `[["it's", 'say "hi"', 'both \\' and "', 'all \\' " \`', 'new\\nline', 'tab\\t', '\\u0000\\u007f\\u009f', 'lone \\ud800']]`,
    `[{ s: 'a'.repeat(100) }]`,
    `[{ long: 'line1\\nline2 and a lot of text here to make it long enough to wrap at some point maybe more' }]`,
    `[{ deep: { nested: { value: 'x'.repeat(60) } }, other: [1, 2, 3] }]`,
    `['x'.repeat(20000)]`,
    `[['x'.repeat(20000)]]`,
    `[{ undefined: undefined, null: null }]`,
    `[{ __proto__x: 1, 'key with space': 2, '': 3 }]`,
    `[Array.from({ length: 8 }, (_, i) => ({ id: i }))]`,
    `[{ a: 1, b: 'two', c: [3], d: { e: 4 }, f: null, g: undefined, h: true, i: 1n, j: Symbol('j') }]`,
  ])('%s', (args) => compareFormat(args));
});

describe('formatLogArgs for errors', () => {
  it('prints the stack, extra properties, causes and bracketed stackless errors', async () => {
    const result = await isolate.run(`
      const plain = new Error('boom');
      const withCode = Object.assign(new Error('coded'), { code: 'E_CODE' });
      const caused = new Error('outer', { cause: new TypeError('inner') });
      const stackless = new Error('nostack'); stackless.stack = 'Error: nostack';
      class MyError extends Error {}
      const renamed = new TypeError('tt'); renamed.name = 'ValidationError';
      return {
        plain: __test.formatLogArgs([plain]),
        withCode: __test.formatLogArgs([withCode]),
        caused: __test.formatLogArgs([caused]),
        stackless: __test.formatLogArgs([stackless, [stackless]]),
        subclass: __test.formatLogArgs([new MyError('m')]).split('\\n')[0],
        renamed: __test.formatLogArgs([renamed]).split('\\n')[0],
        nested: __test.formatLogArgs([{ e: new Error('inner') }]),
        viaS: __test.formatLogArgs(['%s', new RangeError('r')]).split('\\n')[0],
        plainStack: plain.stack,
      };`);
    const r = result as Record<string, string>;
    expect(r.plain).toBe(r.plainStack);
    expect(r.plain).toMatch(/^Error: boom\n {4}at /);
    expect(r.withCode).toMatch(/^Error: coded\n {4}at [\s\S]* \{\n {2}code: 'E_CODE'\n\}$/);
    expect(r.caused).toMatch(
      /^Error: outer\n {4}at [\s\S]* \{\n {2}\[cause\]: TypeError: inner\n {6}at [\s\S]*\n\}$/,
    );
    expect(r.stackless).toBe('[Error: nostack] [ [Error: nostack] ]');
    expect(r.subclass).toBe('MyError: m');
    expect(r.renamed).toBe('TypeError [ValidationError]: tt');
    expect(r.nested).toMatch(/^\{\n {2}e: Error: inner\n {6}at [\s\S]*\n\}$/);
    expect(r.viaS).toBe('RangeError: r');
  });
});

describe('formatLogArgs for Web API objects', () => {
  it('shows URL, URLSearchParams, Headers and Response like Node', async () => {
    const source = `[
      new URL('https://user@example.com:8080/p?q=1#h'),
      new URLSearchParams('a=1&b=2'),
      new URLSearchParams(''),
      new Headers({ 'content-type': 'text/plain', 'x-a': '1' }),
    ]`;
    await compareFormat(source);
    const response = await isolate.run(`return __test.formatLogArgs([new Response('x', { status: 201 })]);`);
    expect(response).toContain(
      "status: 201,\n  statusText: '',\n  headers: Headers { 'content-type': 'text/plain;charset=UTF-8' },",
    );
  });

  it('honours a user-defined nodejs.util.inspect.custom', async () => {
    const result = await isolate.run(`
      const custom = { [Symbol.for('nodejs.util.inspect.custom')]: (depth) => 'CUSTOM(' + depth + ')' };
      return __test.formatLogArgs([custom, { nested: custom }]);`);
    expect(result).toBe('CUSTOM(2) { nested: CUSTOM(1) }');
  });
});
