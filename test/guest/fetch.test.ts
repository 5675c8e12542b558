import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebIsolate, type WebIsolate } from './harness.js';

let isolate: WebIsolate;
beforeAll(async () => {
  isolate = await createWebIsolate();
});
afterAll(() => isolate.dispose());

/** Runs the same async function body in the isolate and in Node (with Node's Headers/Request/Response). */
async function compareWithNode(body: string): Promise<void> {
  const guest = await isolate.run(body);
  const AsyncFunction = (Object.getPrototypeOf(async () => {}) as { constructor: unknown })
    .constructor as new (...args: string[]) => (...args: unknown[]) => Promise<unknown>;
  const node = await new AsyncFunction('Headers', 'Request', 'Response', 'URLSearchParams', body)(
    Headers,
    Request,
    Response,
    URLSearchParams,
  );
  expect(guest).toEqual(JSON.parse(JSON.stringify(node ?? null)));
}

/** What a snippet throws, as [constructor name, message-independent], in both implementations. */
const errorOf = (expression: string): string =>
  `(() => { try { ${expression}; return 'no error'; } catch (e) { return e.constructor.name; } })()`;

describe('Headers', () => {
  it('combines, lowercases, sorts and keeps set-cookie separate', () =>
    compareWithNode(`
      const h = new Headers([['B', '2'], ['a', '1'], ['Set-Cookie', 'x=1'], ['set-cookie', 'y=2'], ['a', '3']]);
      return [[...h], h.get('A'), h.get('set-cookie'), h.getSetCookie(), h.has('b'), h.get('missing'),
        [...h.keys()], [...h.values()]];`));

  it('set/delete/append and value normalization', () =>
    compareWithNode(`
      const h = new Headers({ 'X-One': '  padded\\t ', accept: 'a' });
      h.append('Accept', 'b');
      h.set('x-two', '2');
      h.set('ACCEPT', 'only');
      h.delete('x-one');
      return [...h.entries()];`));

  it('validates names and values with TypeError', () =>
    compareWithNode(`return [
      ${errorOf(`new Headers([['a b', '1']])`)},
      ${errorOf(`new Headers([['', '1']])`)},
      ${errorOf(`new Headers({ a: 'x\\ny' })`)},
      ${errorOf(`new Headers({ a: 'x\\0' })`)},
      ${errorOf(`new Headers({ a: '\\u0100' })`)},
      ${errorOf(`new Headers([['a']])`)},
      ${errorOf(`new Headers([['a', 'b', 'c']])`)},
      ${errorOf(`new Headers().get('bad name')`)},
      ${errorOf(`new Headers({ 'x-ok': 'é' })`)},
    ];`));

  it('iterates live, copies from other Headers, forEach with thisArg', () =>
    compareWithNode(`
      const h = new Headers({ b: '2' });
      const it = h.entries();
      h.append('a', '1');
      const seen = [...it];
      const copy = new Headers(h);
      copy.set('c', '3');
      const each = [];
      h.forEach(function (v, k, self) { each.push([k, v, self === h, this.t]); }, { t: 1 });
      return [seen, [...h], [...copy], each, Object.prototype.toString.call(h), h instanceof Headers];`));
});

describe('Response', () => {
  it('constructs from each body type with the right content-type', () =>
    compareWithNode(`
      const bodies = [
        ['string', 'héllo'],
        ['buffer', new TextEncoder().encode('buf').buffer],
        ['view', new Uint8Array([104, 105])],
        ['subarray', new Uint8Array([0, 104, 105, 0]).subarray(1, 3)],
        ['dataview', new DataView(new Uint8Array([111, 107]).buffer)],
        ['params', new URLSearchParams({ a: '1 2', b: 'é' })],
        ['null', null],
        ['undefined', undefined],
      ];
      const out = [];
      for (const [name, body] of bodies) {
        const r = new Response(body);
        out.push([name, r.headers.get('content-type'), r.body === null, await r.text()]);
      }
      return out;`));

  it('status, statusText, ok, type, url, redirected and defaults', () =>
    compareWithNode(`
      const r = new Response('x', { status: 201, statusText: 'Created', headers: { 'X-A': '1' } });
      const d = new Response();
      return [r.status, r.statusText, r.ok, r.type, r.url, r.redirected, [...r.headers],
        d.status, d.statusText, d.ok, d.bodyUsed, new Response(null, { status: 404 }).ok,
        new Response(null, { status: 299.9 }).status];`));

  it('rejects invalid statuses and bodies for null-body statuses', () =>
    compareWithNode(`return [
      ${errorOf(`new Response('x', { status: 199 })`)},
      ${errorOf(`new Response('x', { status: 600 })`)},
      ${errorOf(`new Response('x', { status: 0 })`)},
      ${errorOf(`new Response('x', { status: 204 })`)},
      ${errorOf(`new Response(null, { status: 204 })`)},
      ${errorOf(`new Response('x', { status: 304 })`)},
      ${errorOf(`new Response('x', { statusText: 'bad\\nline' })`)},
    ];`));

  it('text/json/arrayBuffer/bytes consume the body once', () =>
    compareWithNode(`
      const out = [];
      const r = new Response('{"a":[1,2]}');
      out.push(r.bodyUsed, await r.json(), r.bodyUsed);
      for (const m of ['text', 'json', 'arrayBuffer', 'bytes']) {
        try { await r[m](); out.push('no error'); } catch (e) { out.push(e.constructor.name); }
      }
      const ab = await new Response('abc').arrayBuffer();
      const bytes = await new Response('abc').bytes();
      out.push(Object.prototype.toString.call(ab), Array.from(new Uint8Array(ab)), Object.prototype.toString.call(bytes), Array.from(bytes));
      try { await new Response('not json').json(); } catch (e) { out.push(e.constructor.name); }
      out.push(await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xff])).text());
      out.push(await new Response(null).text(), (await new Response(null).arrayBuffer()).byteLength);
      return out;`));

  it('clone() shares the body and rejects a used body', () =>
    compareWithNode(`
      const r = new Response('body', { status: 202, headers: { a: '1' } });
      const c = r.clone();
      c.headers.set('b', '2');
      const out = [await r.text(), await c.text(), c.status, [...r.headers], [...c.headers]];
      out.push(${errorOf('r.clone()')});
      return out;`));

  it('Response.json, Response.error, Response.redirect', () =>
    compareWithNode(`
      const j = Response.json({ a: 1, b: 'é' }, { status: 201, headers: { 'x-y': 'z' } });
      const j2 = Response.json([1], { headers: { 'content-type': 'application/vnd+json' } });
      const e = Response.error();
      const r = Response.redirect('https://example.com/a b', 301);
      const r2 = Response.redirect('https://example.com/');
      const out = [j.status, [...j.headers], await j.text(), [...j2.headers],
        e.status, e.type, e.ok, e.statusText, e.body, [...e.headers],
        r.status, r.headers.get('location'), r2.status, r.body];
      out.push(${errorOf(`e.headers.set('a', 'b')`)}, ${errorOf(`r.headers.set('a', 'b')`)});
      out.push(${errorOf(`Response.json(undefined)`)}, ${errorOf(`Response.json(() => 1)`)}, ${errorOf(`Response.json(1n)`)});
      out.push(${errorOf(`Response.redirect('https://x/', 200)`)}, ${errorOf(`Response.redirect('/relative')`)});
      return out;`));

  it('body is a readable stream-like object that consumes the body', async () => {
    const result = await isolate.run(`
      const r = new Response('streamed');
      const body = r.body;
      const same = body === r.body;
      const reader = body.getReader();
      const locked = body.locked;
      const first = await reader.read();
      const second = await reader.read();
      const chunks = [];
      for await (const chunk of new Response('iter').body) chunks.push(new TextDecoder().decode(chunk));
      const moved = new Response(new Response('moved').body);
      let reuse; try { await r.text(); } catch (e) { reuse = e.constructor.name; }
      return [same, locked, new TextDecoder().decode(first.value), first.done, second.done, r.bodyUsed, chunks,
        await moved.text(), reuse, new Response('').body === null, new Response(null).body];`);
    expect(result).toEqual([
      true,
      true,
      'streamed',
      false,
      true,
      true,
      ['iter'],
      'moved',
      'TypeError',
      false,
      null,
    ]);
  });
});

describe('Request', () => {
  it('normalizes methods and exposes defaults', () =>
    compareWithNode(`
      const out = [];
      for (const m of ['get', 'Post', 'delete', 'patch', 'PATCH', 'options', 'head', 'put', 'custom']) {
        out.push(new Request('https://example.com/', { method: m }).method);
      }
      const r = new Request('https://Example.com/a/../b?x#y');
      out.push(r.url, r.method, r.redirect, r.cache, r.credentials, r.mode, r.referrer, r.integrity, r.keepalive,
        r.destination, r.referrerPolicy, r.bodyUsed, r.body, r.signal.aborted, [...r.headers]);
      return out;`));

  it('rejects bad methods, bodies on GET/HEAD, relative URLs and credentials', () =>
    compareWithNode(`return [
      ${errorOf(`new Request('https://x/', { method: 'CONNECT' })`)},
      ${errorOf(`new Request('https://x/', { method: 'trace' })`)},
      ${errorOf(`new Request('https://x/', { method: 'bad method' })`)},
      ${errorOf(`new Request('https://x/', { body: 'x' })`)},
      ${errorOf(`new Request('https://x/', { method: 'HEAD', body: 'x' })`)},
      ${errorOf(`new Request('/relative')`)},
      ${errorOf(`new Request('https://u:p@x/')`)},
      ${errorOf(`new Request('https://x/', { redirect: 'nope' })`)},
    ];`));

  it('reads bodies and sets content-type', () =>
    compareWithNode(`
      const r = new Request('https://x/', { method: 'POST', body: new URLSearchParams('a=1&b=2') });
      const s = new Request('https://x/', { method: 'PUT', body: 'text', headers: { 'content-type': 'text/custom' } });
      return [r.headers.get('content-type'), await r.text(), r.bodyUsed, s.headers.get('content-type'), await s.text()];`));

  it('copies from another Request, moving its body', () =>
    compareWithNode(`
      const original = new Request('https://x/a', { method: 'POST', body: 'payload', headers: { a: '1' } });
      const copy = new Request(original, { headers: { b: '2' } });
      const out = [copy.url, copy.method, [...copy.headers], original.bodyUsed, await copy.text()];
      out.push(${errorOf(`new Request(original)`)});
      const override = new Request(new Request('https://x/', { method: 'POST', body: 'a' }), { body: 'b' });
      out.push(await override.text());
      out.push(${errorOf(`new Request(new Request('https://x/', { method: 'POST', body: 'a' }), { method: 'GET' })`)});
      return out;`));

  it('clone() keeps method, headers and body', () =>
    compareWithNode(`
      const r = new Request('https://x/', { method: 'POST', body: 'b', headers: { h: 'v' } });
      const c = r.clone();
      return [c.method, c.url, [...c.headers], await c.text(), await r.text(), ${errorOf('r.clone()')}];`));

  it('follows the signal it was given', async () => {
    const result = await isolate.run(`
      const controller = new AbortController();
      const r = new Request('https://x/', { signal: controller.signal });
      const before = r.signal.aborted;
      controller.abort('why');
      return [before, r.signal.aborted, r.signal.reason, r.signal === controller.signal, new Request(r).signal.aborted];`);
    expect(result).toEqual([false, true, 'why', false, true]);
  });
});

describe('readBodyBytes (runtime hook)', () => {
  it('returns the bytes synchronously once, then refuses', async () => {
    const result = await isolate.run(`
      const r = new Response('héllo');
      const bytes = __test.readBodyBytes(r);
      let again; try { __test.readBodyBytes(r); } catch (e) { again = e.constructor.name; }
      const empty = __test.readBodyBytes(new Response(null));
      const req = __test.readBodyBytes(new Request('https://x/', { method: 'POST', body: new Uint8Array([1, 2, 3]) }));
      return [Array.from(bytes), r.bodyUsed, again, empty.length, Array.from(req)];`);
    expect(result).toEqual([Array.from(new TextEncoder().encode('héllo')), true, 'TypeError', 0, [1, 2, 3]]);
  });

  it('is not affected by later changes to the caller-owned buffer', async () => {
    const result = await isolate.run(`
      const source = new Uint8Array([1, 2, 3]);
      const r = new Response(source);
      source[0] = 9;
      return Array.from(__test.readBodyBytes(r));`);
    expect(result).toEqual([1, 2, 3]);
  });
});
