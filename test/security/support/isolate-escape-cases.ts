/**
 * The sandbox-escape corpus for the isolate tier: published vm2 / isolated-vm / node:vm escape techniques
 * as guest code. Each case is the body of `async (event, context) => { ... }` and returns
 * `deny(detail)` when the technique found nothing of the host, or `escaped(detail)` when it did. The
 * event is {@link ProbeEvent}: what an attacker could guess (the port, the data dir), handed over so that a
 * case aims at the real targets.
 *
 * To extend: add a row. A new host binding (secrets, egress) gets a case that hands its values to
 * `judge` and a case that tries to reach what it guards.
 */
export interface IsolateEscapeCase {
  id: string;
  /** The published technique this reproduces. */
  technique: string;
  body: string;
}

export interface ProbeEvent {
  port: number;
  dataDir: string;
  dbPath: string;
  serverPid: number;
  /** The server's working directory: a host path that must not show in a stack trace. */
  hostCwd: string;
}

/**
 * Helpers every case has. `reaches(v)` climbs v's prototype chain and calls each constructor's
 * constructor with `return process`: a guest object yields the guest's Function (no `process`), an
 * object of the host realm yields the host's Function and with it the host's `process` - the escape of
 * vm2 CVE-2022-36067, CVE-2023-29017, CVE-2023-30547 and CVE-2023-37466 alike.
 */
export const GUEST_PRELUDE = `
const reaches = (value) => {
  try {
    for (let o = value, depth = 0; o !== null && o !== undefined && depth < 8; o = Object.getPrototypeOf(o), depth++) {
      const ctor = o.constructor;
      const fn = typeof ctor === 'function' ? ctor.constructor : undefined;
      if (typeof fn === 'function') {
        try {
          const found = fn('return typeof process === "undefined" ? undefined : process')();
          if (found !== undefined && found !== null) return true;
        } catch {}
      }
      if (typeof o !== 'object' && typeof o !== 'function') break;
    }
  } catch {}
  return false;
};
const deny = (detail) => ({ verdict: 'denied', detail: String(detail).slice(0, 400) });
const escaped = (detail) => ({ verdict: 'ESCAPED', detail: String(detail).slice(0, 400) });
const judge = (values, what) => {
  const hit = values.find(reaches);
  return hit === undefined ? deny(what + ': ' + values.length + ' values, none of the host realm') : escaped(what);
};
const errorOf = async (fn) => { try { await fn(); return undefined; } catch (error) { return error; } };
`;

export const isolateEscapeCases: IsolateEscapeCase[] = [
  {
    id: 'global-process',
    technique:
      'globalThis.process / global / Buffer / module.require, and the require shim (node:vm contexts share the host global)',
    body: `const kinds = [typeof globalThis.process, typeof module.require, typeof Buffer, typeof global, typeof setImmediate];
      let required = 'refused';
      try { require('fs'); required = 'loaded'; } catch {}
      return kinds.every((k) => k === 'undefined') && required === 'refused' ? deny(kinds.join()) : escaped(kinds.join() + ' ' + required);`,
  },
  {
    id: 'this-constructor-constructor',
    technique: "this.constructor.constructor('return process')() (the canonical node:vm escape)",
    body: `const seen = [];
      for (const start of [globalThis, this, {}, [], () => 0, Symbol.iterator, 1n]) {
        try { seen.push(start.constructor.constructor('return typeof process')()); } catch (e) { seen.push(e.name); }
      }
      return seen.every((s) => s === 'undefined' || s === 'ReferenceError') ? deny(seen.join()) : escaped(seen.join());`,
  },
  {
    id: 'host-provided-objects',
    technique: 'constructor climb from every host-provided value: event, context, its methods, env',
    body: `const values = [event, context, context.env, context.getRemainingTimeInMillis, context.getRemainingTimeInMillis(),
        Object.getPrototypeOf(event), Object.getPrototypeOf(context)];
      return judge(values, 'event and context');`,
  },
  {
    id: 'web-globals',
    technique: 'constructor climb from the host-backed web globals (URL, crypto, timers, Response, console)',
    body: `const values = [URL, new URL('http://x/y?z=1'), new URL('http://x').searchParams, crypto, crypto.getRandomValues,
        crypto.randomUUID(), setTimeout, setTimeout(() => {}, 0), console, console.log, new Response('x'),
        new Request('http://x/'), new Headers(), new TextEncoder().encode('x'), structuredClone, queueMicrotask,
        atob, new AbortController().signal, new DOMException('x')];
      return judge(values, 'web globals');`,
  },
  {
    id: 'reachable-host-references',
    technique:
      'isolated-vm Reference/Callback leak: walk everything reachable from globalThis for ivm handles',
    body: `const seen = new Set();
      const queue = [[globalThis, 'globalThis']];
      const found = [];
      while (queue.length > 0 && seen.size < 20000) {
        const [value, path] = queue.shift();
        if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
        seen.add(value);
        for (const marker of ['applySync', 'derefInto', 'copySync', 'setSync', '__strato_host']) {
          try { if (marker in value) found.push(path + '.' + marker); } catch {}
        }
        let keys = [];
        try { keys = Reflect.ownKeys(value); } catch {}
        for (const key of keys) {
          let child;
          try { const d = Object.getOwnPropertyDescriptor(value, key); child = d && 'value' in d ? d.value : undefined; } catch {}
          queue.push([child, path + '.' + String(key)]);
        }
        try { queue.push([Object.getPrototypeOf(value), path + '.__proto__']); } catch {}
      }
      return found.length === 0 ? deny(seen.size + ' objects walked') : escaped(found.join(' '));`,
  },
  {
    id: 'prepare-stack-trace',
    technique:
      'Error.prepareStackTrace receives CallSites; getThis()/getFunction() of host frames (vm2 CVE-2022-36067)',
    body: `const values = [];
      const files = [];
      Error.prepareStackTrace = (error, frames) => {
        for (const frame of frames) {
          try { values.push(frame.getThis(), frame.getFunction()); } catch {}
          try { files.push(String(frame.getFileName())); } catch {}
        }
        return 'prepared';
      };
      try {
        for (const trigger of [() => null.x, () => new URL('::'), () => crypto.getRandomValues(new Uint8Array(70000)),
            () => structuredClone(() => 0), () => new Response(null, { status: 1 }), () => atob('%')]) {
          const error = await errorOf(trigger);
          if (error) { values.push(error); void error.stack; }
        }
        await errorOf(() => fetch('http://127.0.0.1:' + event.port + '/')).then((e) => e && e.stack);
      } finally { delete Error.prepareStackTrace; }
      const hostFiles = files.filter((f) => f.includes(event.hostCwd) || f.includes('node_modules') || f.startsWith('node:'));
      if (hostFiles.length > 0) return escaped('host frames: ' + hostFiles.join());
      return judge(values, 'call sites');`,
  },
  {
    id: 'capture-stack-trace',
    technique:
      'Error.captureStackTrace on an object whose stack getter runs prepareStackTrace late (vm2 CVE-2023-29199)',
    body: `const values = [];
      Error.prepareStackTrace = (error, frames) => { values.push(error, ...frames.map((f) => { try { return f.getThis(); } catch { return undefined; } })); return ''; };
      try {
        const target = {};
        Error.captureStackTrace(target);
        void target.stack;
        const error = new Error('x');
        Object.defineProperty(error, 'name', { get() { values.push(this); return 'Evil'; } });
        void error.stack;
        console.log(error);
      } finally { delete Error.prepareStackTrace; }
      return judge(values, 'captured stacks');`,
  },
  {
    id: 'stack-paths',
    technique: 'information leak: host file paths in stacks of errors raised by host-backed calls',
    body: `const stacks = [];
      for (const trigger of [() => fetch('http://127.0.0.1:' + event.port + '/'), () => new URL('::'), () => null.x,
          () => crypto.getRandomValues(new Uint8Array(70000)), () => new Request('::')]) {
        const error = await errorOf(trigger);
        if (error) stacks.push(String(error.stack) + String(error.message));
      }
      const text = stacks.join('\\n');
      return [event.hostCwd, event.dataDir, 'node_modules', 'node:internal'].some((p) => text.includes(p))
        ? escaped(text) : deny(stacks.length + ' stacks without host paths');`,
  },
  {
    id: 'proxy-traps',
    technique:
      'a Proxy handed to host-backed APIs: trap arguments (receiver, descriptors) from the host realm (vm2 CVE-2023-37903)',
    body: `const values = [];
      const handler = new Proxy({}, { get: (_t, trap) => (...args) => { values.push(...args); return Reflect[trap](...args); } });
      const evil = new Proxy({ a: 1, toString() { return 'x'; } }, handler);
      const attempts = [() => console.log(evil), () => structuredClone(evil), () => new URL(evil), () => new Headers(evil),
        () => new Response(JSON.stringify(evil)), () => Response.json(evil), () => setTimeout(evil, evil),
        () => crypto.getRandomValues(evil), () => new TextEncoder().encode(evil), () => fetch(evil), () => btoa(evil)];
      for (const attempt of attempts) await errorOf(attempt);
      return judge(values, 'proxy trap arguments');`,
  },
  {
    id: 'promise-then',
    technique:
      'Promise.prototype.then overridden to catch promises and callbacks the host resolves (vm2 CVE-2023-37466)',
    body: `const values = [];
      const originalThen = Promise.prototype.then;
      Promise.prototype.then = function (onFulfilled, onRejected) {
        values.push(this, onFulfilled, onRejected);
        return originalThen.call(this, (v) => { values.push(v); return onFulfilled ? onFulfilled(v) : v; },
          (e) => { values.push(e); if (onRejected) return onRejected(e); throw e; });
      };
      try {
        await errorOf(() => fetch('http://127.0.0.1:' + event.port + '/v1/functions'));
        await new Promise((resolve) => setTimeout(resolve, 1));
        await new Response('body').text();
        await Promise.resolve().then(() => 1);
      } finally { Promise.prototype.then = originalThen; }
      return judge(values, 'promise values');`,
  },
  {
    id: 'promise-species',
    technique:
      'Symbol.species on Promise: the constructor derived promises are built with (vm2 CVE-2022-36067 variant)',
    body: `const values = [];
      class EvilPromise extends Promise {
        static get [Symbol.species]() { values.push(this); return function (executor) { executor((v) => values.push(v), (e) => values.push(e)); }; }
        constructor(executor) { super((resolve, reject) => executor((v) => { values.push(v); resolve(v); }, (e) => { values.push(e); reject(e); })); }
      }
      await errorOf(() => EvilPromise.resolve(fetch('http://127.0.0.1:' + event.port + '/')).then(() => 0));
      await errorOf(() => new EvilPromise((r) => setTimeout(r, 1)).then((v) => v));
      return judge(values, 'species values');`,
  },
  {
    id: 'inspect-custom',
    technique:
      "Symbol.for('nodejs.util.inspect.custom') on a logged object: Node's inspect would hand it host objects (vm2 CVE-2023-30547)",
    body: `const values = [];
      const evil = { [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) { values.push(depth, options, inspect); return 'custom'; } };
      console.log(evil);
      console.error('%o %O %j', evil, evil, evil);
      console.dir(evil);
      return judge(values, 'inspect arguments');`,
  },
  {
    id: 'symbol-to-primitive',
    technique:
      'Symbol.toPrimitive / toJSON / toString on values the runtime converts (result, timer delay, header values)',
    body: `const values = [];
      const evil = { [Symbol.toPrimitive](hint) { values.push(this, hint); return 1; }, toJSON(key) { values.push(this, key); return 'json'; } };
      setTimeout(() => {}, evil);
      await errorOf(() => new Headers({ a: evil }));
      await errorOf(() => new Response(evil));
      await errorOf(() => new URL(evil, 'http://x'));
      JSON.stringify({ evil });
      return judge(values, 'conversion arguments');`,
  },
  {
    id: 'symbol-has-instance',
    technique:
      'Symbol.hasInstance on globals the runtime checks results against (instanceof Response/Error/Promise)',
    body: `const values = [];
      for (const ctor of [Response, Error, Promise, Object, Array, Uint8Array, ArrayBuffer]) {
        try { Object.defineProperty(ctor, Symbol.hasInstance, { configurable: true, value(candidate) { values.push(this, candidate); return false; } }); } catch {}
      }
      await errorOf(() => fetch('http://127.0.0.1:' + event.port + '/'));
      await new Response('x').arrayBuffer();
      return judge(values, 'instanceof candidates');`,
  },
  {
    id: 'symbol-for-registry',
    technique:
      'Symbol.for: the global symbol registry shared across realms, looking for host-registered symbols',
    body: `const names = ['nodejs.util.inspect.custom', 'nodejs.rejection', 'nodejs.util.promisify.custom', 'ivm', 'isolated-vm', 'strato', 'strato.host'];
      const hits = [];
      for (const name of names) {
        const symbol = Symbol.for(name);
        for (const target of [globalThis, Object.prototype, Function.prototype, console]) {
          try { if (target[symbol] !== undefined) hits.push(name); } catch {}
        }
      }
      return hits.length === 0 ? deny('no registered symbol carries a value') : escaped(hits.join());`,
  },
  {
    id: 'async-iterator',
    technique:
      'Symbol.asyncIterator / iterator pollution to capture what the runtime iterates (headers, bodies, logs)',
    body: `const values = [];
      const originalIterator = Array.prototype[Symbol.iterator];
      Array.prototype[Symbol.iterator] = function () { values.push(this); return originalIterator.call(this); };
      Object.prototype[Symbol.asyncIterator] = async function* () { values.push(this); };
      try {
        const response = new Response('body', { headers: [['a', 'b']] });
        for (const entry of response.headers) values.push(entry);
        await response.text();
        await errorOf(() => fetch('http://127.0.0.1:' + event.port + '/'));
      } finally {
        Array.prototype[Symbol.iterator] = originalIterator;
        delete Object.prototype[Symbol.asyncIterator];
      }
      return judge(values, 'iterated values');`,
  },
  {
    id: 'prototype-pollution-host-objects',
    technique:
      'prototype pollution through host-provided objects (event.__proto__, context.__proto__.__proto__)',
    body: `const targets = [Object.getPrototypeOf(event), Object.getPrototypeOf(Object.getPrototypeOf(context)), Object.getPrototypeOf(context.env)];
      for (const target of targets) { try { target.pollutedByProbe = 'yes'; target.toJSON = () => 'pwned'; } catch {} }
      // Pollution stays in this isolate: the host copies results as JSON text, so the pwned toJSON is all it sees.
      const seen = [({}).pollutedByProbe, Object.prototype === targets[0]];
      for (const target of targets) { try { delete target.pollutedByProbe; delete target.toJSON; } catch {} }
      return seen[1] === true ? deny('event is a plain guest object: ' + seen.join()) : escaped('event has a foreign prototype');`,
  },
  {
    id: 'eval-function',
    technique: 'eval, indirect eval, Function and AsyncFunction constructors asking for process',
    body: `const AsyncFunction = (async () => {}).constructor;
      const GeneratorFunction = function* () {}.constructor;
      const seen = [];
      for (const attempt of [() => eval('typeof process'), () => (0, eval)('typeof process'), () => Function('return typeof process')(),
          () => new Function('return this')().process, () => GeneratorFunction('yield typeof process')().next().value]) {
        try { seen.push(String(attempt())); } catch (e) { seen.push(e.name); }
      }
      seen.push(await AsyncFunction('return typeof process')());
      return seen.every((s) => s === 'undefined' || s === 'ReferenceError' || s === 'EvalError') ? deny(seen.join()) : escaped(seen.join());`,
  },
  {
    id: 'timer-string',
    technique:
      'setTimeout/setInterval with a string (evaluated by some sandboxes in the host) and a timer callback this',
    body: `const values = [];
      globalThis.probeMarker = 'guest';
      await errorOf(() => setTimeout('globalThis.probeMarker = typeof process', 0));
      await new Promise((resolve) => setTimeout(function () { values.push(this, arguments); resolve(); }, 0));
      const marker = globalThis.probeMarker;
      if (marker !== 'guest' && marker !== 'undefined') return escaped('string timer saw process: ' + marker);
      return judge(values, 'timer callback this');`,
  },
  {
    id: 'dynamic-import',
    technique:
      'import() of node built-ins and data: URLs, built at run time so that the bundler cannot see them',
    body: `const results = [];
      const load = new Function('s', 'return import(s)');
      for (const specifier of ['node:fs', 'fs', 'node:child_process', 'node:process', 'data:text/javascript,export default typeof process', 'file:///etc/passwd']) {
        try { const m = await load(specifier); results.push(specifier + '=loaded:' + String(m && m.default)); } catch (e) { results.push(specifier + '=refused'); }
      }
      return results.every((r) => r.endsWith('=refused')) ? deny(results.join()) : escaped(results.join());`,
  },
  {
    id: 'node-internals',
    technique:
      'process.binding, process.mainModule.require, module.constructor._load, require.cache (vm2 sandbox escapes)',
    body: `const probes = [];
      for (const attempt of [() => process.binding('fs'), () => process.mainModule.require('fs'), () => module.constructor._load('fs'),
          () => module.require('fs'), () => require.cache, () => globalThis.global.process, () => __dirname, () => __filename]) {
        try { probes.push('got:' + typeof attempt()); } catch (e) { probes.push(e.name); }
      }
      return probes.some((p) => p.startsWith('got:') && p !== 'got:undefined') ? escaped(probes.join()) : deny(probes.join());`,
  },
  {
    id: 'webassembly',
    technique: 'WebAssembly memory, which lives outside the V8 heap and so outside the isolate memory limit',
    body: `if (typeof WebAssembly === 'undefined') return deny('no WebAssembly');
      // With WebAssembly exposed, a 128 MB function fills 1 GiB of host memory here.
      try {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 16384 });
        memory.grow(16383);
        new Uint8Array(memory.buffer).fill(1);
        return escaped('filled ' + memory.buffer.byteLength + ' bytes of wasm memory');
      } catch (e) { return deny(e.name); }`,
  },
  {
    id: 'shared-memory',
    technique:
      'SharedArrayBuffer/Atomics as a high-resolution timer (Spectre): no thread or channel to share it with',
    body: `const kinds = [typeof Worker, typeof MessageChannel, typeof postMessage, typeof BroadcastChannel, typeof performance, typeof SharedWorker];
      return kinds.every((k) => k === 'undefined') ? deny('sab=' + typeof SharedArrayBuffer + ' ' + kinds.join()) : escaped(kinds.join());`,
  },
  {
    id: 'env-and-canaries',
    technique:
      'every string reachable from globalThis and context, searched for secrets of the host and of other functions',
    body: `const strings = [];
      const seen = new Set();
      const queue = [globalThis, context, event];
      while (queue.length > 0 && seen.size < 20000) {
        const value = queue.shift();
        if (typeof value === 'string') { strings.push(value); continue; }
        if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
        seen.add(value);
        for (const key of Reflect.ownKeys(value)) {
          try { const d = Object.getOwnPropertyDescriptor(value, key); if (d && 'value' in d) queue.push(d.value); } catch {}
        }
      }
      const envNames = Object.keys(context.env).join();
      // The test checks the whole response for the canaries; the names say what this function could see.
      return envNames === 'OWN' ? deny('env=' + envNames + ' ' + strings.join('|').slice(0, 200)) : escaped('env=' + envNames);`,
  },
  {
    id: 'file-and-data-dir',
    technique: 'file:// fetches and URL tricks at the data dir and the SQLite file',
    body: `const results = [];
      for (const target of ['file://' + event.dbPath, 'file://' + event.dataDir + '/', 'file:///proc/self/environ', 'file:///etc/passwd']) {
        try { const r = await fetch(target); results.push('read:' + (await r.text()).slice(0, 50)); } catch (e) { results.push('refused'); }
      }
      return results.every((r) => r === 'refused') ? deny(results.join()) : escaped(results.join());`,
  },
  {
    id: 'control-plane-port',
    technique:
      'the control plane from inside: fetch, XMLHttpRequest, WebSocket and EventSource at 127.0.0.1:<port>',
    body: `const results = [typeof XMLHttpRequest, typeof WebSocket, typeof EventSource];
      for (const host of ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '2130706433']) {
        try { const r = await fetch('http://' + host + ':' + event.port + '/v1/functions'); results.push('reached:' + r.status); } catch (e) { results.push('refused'); }
      }
      return results.every((r) => r === 'refused' || r === 'undefined') ? deny(results.join()) : escaped(results.join());`,
  },
];
