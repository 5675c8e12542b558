import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { createWebIsolate, runInNode, type WebIsolate } from './harness.js';

let isolate: WebIsolate;
beforeAll(async () => {
  isolate = await createWebIsolate();
});
afterAll(() => isolate.dispose());

describe('structuredClone', () => {
  /**
   * Builds a value, clones it and describes the clone with Node's util.inspect-like view computed in
   * the isolate by the guest's own formatter; the same builder runs in Node with Node's structuredClone.
   */
  async function compareClone(builder: string): Promise<void> {
    const guest = await isolate.run(
      `const v = (${builder})(); return __test.formatLogArgs([structuredClone(v)]);`,
    );
    const value = runInNode(`return (${builder})();`);
    expect(guest).toBe(inspect(structuredClone(value)));
  }

  it.each([
    '() => ({ a: 1, b: "s", c: null, d: undefined, e: true, f: 1n, g: -0, h: NaN, i: [1, [2, [3]]] })',
    '() => [1, , 3]',
    '() => Object.assign([1, 2], { extra: "x" })',
    '() => new Date(86400000)',
    '() => new Date(NaN)',
    '() => /ab+c/gi',
    '() => new Map([[1, { a: 1 }], ["k", [2]]])',
    '() => new Set([1, "a", { b: 2 }])',
    '() => new Uint8Array([1, 2, 3])',
    '() => new Float64Array([1.5, -0, Infinity])',
    '() => new BigInt64Array([1n, -2n])',
    '() => new Uint16Array(new Uint16Array([1, 2, 3, 4]).buffer, 2, 2)',
    '() => new DataView(new Uint8Array([1, 2, 3]).buffer, 1)',
    '() => new Uint8Array([9, 8]).buffer',
    '() => [Object(1), Object("s"), Object(false), Object(5n)]',
    '() => new (class Point { constructor() { this.x = 1; } method() {} })()',
    '() => Object.create(null, { a: { value: 1, enumerable: true }, hidden: { value: 2 } })',
    '() => ({ get a() { return 42; } })',
    '() => ({ [Symbol("s")]: 1, k: 2 })',
  ])('clones %s like Node', (builder) => compareClone(builder));

  it('preserves cycles and shared references', async () => {
    const result = await isolate.run(`
      const shared = { s: 1 };
      const root = { a: shared, b: shared, list: [shared] };
      root.self = root;
      const buffer = new ArrayBuffer(8);
      const views = [new Uint8Array(buffer), new Uint32Array(buffer, 4, 1)];
      const map = new Map(); map.set(map, map);
      const c = structuredClone({ root, views, map });
      return [c.root.a === c.root.b, c.root.list[0] === c.root.a, c.root.self === c.root, c.root !== root,
        c.views[0].buffer === c.views[1].buffer, c.views[0].buffer !== buffer, c.map.get(c.map) === c.map];`);
    expect(result).toEqual([true, true, true, true, true, true, true]);
  });

  it('clones errors like Node: type by name, message, stack, cause; other properties dropped', async () => {
    const script = `
      const e = new TypeError('m', { cause: { deep: [1] } });
      e.extra = 1;
      const named = new Error('n'); named.name = 'RangeError';
      class Custom extends Error {}
      const results = [];
      for (const error of [e, named, new Custom('c'), new SyntaxError(), new AggregateError([1], 'agg')]) {
        const c = structuredClone(error);
        results.push([c.constructor.name, c.message, c.name, c.stack === error.stack, c.cause, c.extra,
          Object.getOwnPropertyNames(c).sort(), c instanceof Error]);
      }
      return results;`;
    const expected = runInNode(script);
    // The isolate's result comes back through JSON, so compare against Node's through JSON too.
    expect(await isolate.run(script)).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it.each([
    ['a function', '() => () => 1'],
    ['a symbol', '() => Symbol("x")'],
    ['a nested function', '() => ({ f() {} })'],
    ['a promise', '() => Promise.resolve()'],
    ['a WeakMap', '() => new WeakMap()'],
  ])('throws DataCloneError for %s', async (_name, builder) => {
    const thrown = await isolate.thrown(`structuredClone((${builder})())`);
    const value = runInNode(`return (${builder})();`);
    let nodeMessage = '';
    try {
      structuredClone(value);
    } catch (error) {
      nodeMessage = (error as Error).message;
    }
    expect(thrown).toMatchObject({
      name: 'DataCloneError',
      isDOMException: true,
      code: 25,
      message: nodeMessage,
    });
  });

  it('requires an argument', async () => {
    expect((await isolate.thrown('structuredClone()')).constructorName).toBe('TypeError');
  });
});

describe('crypto', () => {
  it('fills integer typed arrays with random values', async () => {
    const result = await isolate.run(`
      const a = new Uint8Array(64);
      const same = crypto.getRandomValues(a) === a;
      const b = crypto.getRandomValues(new BigUint64Array(2));
      const c = crypto.getRandomValues(new Uint32Array(new ArrayBuffer(16), 4, 2));
      const d = crypto.getRandomValues(new Uint8Array(65536));
      return [same, a.some((x) => x !== 0), b.length, c.length, d.length, crypto.getRandomValues(new Int8Array(0)).length];`);
    expect(result).toEqual([true, true, 2, 2, 65536, 0]);
  });

  it('rejects float arrays, non-views and more than 65536 bytes like Node', async () => {
    for (const [expression, name] of [
      ['new Float32Array(4)', 'TypeMismatchError'],
      ['new DataView(new ArrayBuffer(4))', 'TypeMismatchError'],
      ['[1, 2]', 'TypeMismatchError'],
      ['new Uint8Array(65537)', 'QuotaExceededError'],
      ['new Uint32Array(16385)', 'QuotaExceededError'],
    ] as const) {
      const thrown = await isolate.thrown(`crypto.getRandomValues(${expression})`);
      expect(thrown, expression).toMatchObject({ name, isDOMException: true });
    }
  });

  it('randomUUID gives distinct RFC 4122 version 4 UUIDs', async () => {
    const uuids = await isolate.evaluate<string[]>(`Array.from({ length: 200 }, () => crypto.randomUUID())`);
    expect(new Set(uuids).size).toBe(200);
    for (const uuid of uuids)
      expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('AbortController / AbortSignal / EventTarget', () => {
  it('aborts with a default AbortError or the given reason, once', async () => {
    const result = await isolate.run(`
      const c = new AbortController();
      const events = [];
      c.signal.addEventListener('abort', (e) => events.push(['listener', e.type, e.target === c.signal]));
      c.signal.onabort = (e) => events.push(['onabort', e.type]);
      const before = [c.signal.aborted, c.signal.reason];
      c.abort();
      c.abort('second');
      let thrown; try { c.signal.throwIfAborted(); } catch (e) { thrown = [e.name, e.message, e instanceof DOMException]; }
      const custom = new AbortController(); custom.abort({ why: 1 });
      return [before, c.signal.aborted, c.signal.reason.name, events.length, events, thrown, custom.signal.reason];`);
    const c = new AbortController();
    c.abort();
    expect(result).toEqual([
      [false, null],
      true,
      'AbortError',
      2,
      expect.arrayContaining([
        ['listener', 'abort', true],
        ['onabort', 'abort'],
      ]),
      ['AbortError', (c.signal.reason as Error).message, true],
      { why: 1 },
    ]);
  });

  it('AbortSignal.abort and AbortSignal.any; the constructor is illegal', async () => {
    const result = await isolate.run(`
      const pre = AbortSignal.abort('r');
      const a = new AbortController(); const b = new AbortController();
      const any = AbortSignal.any([a.signal, b.signal]);
      const before = any.aborted;
      b.abort('from b');
      let illegal; try { new AbortSignal(); } catch (e) { illegal = e.constructor.name; }
      return [pre.aborted, pre.reason, before, any.aborted, any.reason, AbortSignal.any([pre]).reason, illegal,
        Object.prototype.toString.call(any), any instanceof EventTarget];`);
    expect(result).toEqual([
      true,
      'r',
      false,
      true,
      'from b',
      'r',
      'TypeError',
      '[object AbortSignal]',
      true,
    ]);
  });

  it('EventTarget: once, removal, handleEvent objects, preventDefault, signal option, error isolation', async () => {
    const result = await isolate.run(`
      const t = new EventTarget();
      const log = [];
      const reported = [];
      globalThis.console = { error: (e) => reported.push(e.message) };
      const listener = (e) => log.push('fn:' + e.type);
      t.addEventListener('x', listener);
      t.addEventListener('x', listener); // duplicate ignored
      t.addEventListener('x', { handleEvent: (e) => log.push('obj:' + e.type) }, { once: true });
      t.addEventListener('x', () => { throw new Error('listener failure'); });
      const controller = new AbortController();
      t.addEventListener('x', () => log.push('signal'), { signal: controller.signal });
      t.addEventListener('y', (e) => e.preventDefault());
      t.dispatchEvent(new Event('x'));
      controller.abort();
      t.dispatchEvent(new Event('x'));
      t.removeEventListener('x', listener);
      t.dispatchEvent(new Event('x'));
      const cancelable = new Event('y', { cancelable: true });
      const notCancelable = new Event('y');
      delete globalThis.console;
      return [log, reported, t.dispatchEvent(cancelable), cancelable.defaultPrevented, t.dispatchEvent(notCancelable),
        cancelable.target === t, cancelable.eventPhase, Event.AT_TARGET, cancelable.isTrusted];`);
    expect(result).toEqual([
      ['fn:x', 'obj:x', 'signal', 'fn:x'],
      ['listener failure', 'listener failure', 'listener failure'],
      false,
      true,
      true,
      true,
      0,
      2,
      false,
    ]);
  });

  it('stopImmediatePropagation stops later listeners', async () => {
    const result = await isolate.run(`
      const t = new EventTarget(); const log = [];
      t.addEventListener('e', (e) => { log.push(1); e.stopImmediatePropagation(); });
      t.addEventListener('e', () => log.push(2));
      t.dispatchEvent(new Event('e'));
      return log;`);
    expect(result).toEqual([1]);
  });
});
