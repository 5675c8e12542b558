import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebIsolate, runInNode, type WebIsolate } from './harness.js';

let isolate: WebIsolate;
beforeAll(async () => {
  isolate = await createWebIsolate();
});
afterAll(() => isolate.dispose());

const components = [
  'href',
  'origin',
  'protocol',
  'username',
  'password',
  'host',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
] as const;

function nodeComponents(url: URL): Record<string, string> {
  return Object.fromEntries(components.map((key) => [key, url[key]]));
}

const inGuestComponents = `Object.fromEntries(${JSON.stringify(components)}.map((k) => [k, u[k]]))`;

describe('URL parsing', () => {
  const inputs: Array<[string, string?]> = [
    ['https://user:pa ss@Example.COM:443/a/../b/./c?q=1 2#frag ment'],
    ['http://[::1]:8080/x'],
    ['HTTP://xn--nxasmq6b.com/é'],
    ['http://ÉXAMPLE.com/'],
    ['file:///C:/dir/file.txt'],
    ['mailto:someone@example.com'],
    ['data:text/plain,hello'],
    ['foo://host/path?x#y'],
    ['blob:https://example.com/uuid'],
    ['../up?x=1', 'http://a.example/b/c/d'],
    ['//other.example/p', 'https://a.example/'],
    ['?only-query', 'http://a.example/path'],
    ['#only-hash', 'http://a.example/path?q'],
    ['  http://trim.example/  '],
    ['http://a.example/\ttab\nnewline'],
    ['ws://a.example:80/'],
    ['http://192.168.0.1.:80/'],
    ['http://0x7f.1/'],
  ];

  it.each(inputs)('parses %j (base %j) like Node', async (input, base) => {
    const args =
      base === undefined ? JSON.stringify(input) : `${JSON.stringify(input)}, ${JSON.stringify(base)}`;
    const result = await isolate.evaluate(
      `(() => { const u = new URL(${args}); return ${inGuestComponents}; })()`,
    );
    expect(result).toEqual(nodeComponents(new URL(input, base)));
  });

  it.each<[string, string?]>([
    ['not a url'],
    ['http://'],
    ['/relative'],
    ['http://a b/'],
    ['x', 'not-a-base'],
    ['http://[::1/'],
  ])('rejects %j with TypeError("Invalid URL")', async (input, base) => {
    const args =
      base === undefined ? JSON.stringify(input) : `${JSON.stringify(input)}, ${JSON.stringify(base)}`;
    const thrown = await isolate.thrown(`new URL(${args})`);
    expect(thrown).toMatchObject({
      constructorName: 'TypeError',
      message: 'Invalid URL',
      code: 'ERR_INVALID_URL',
    });
    expect(await isolate.evaluate(`URL.canParse(${args})`)).toBe(false);
  });

  it('canParse, toString, toJSON, URL base objects and JSON.stringify', async () => {
    const result = await isolate.evaluate(`(() => {
      const base = new URL('https://b.example/dir/');
      const u = new URL('file.txt', base);
      return [URL.canParse('https://x'), URL.canParse('a', 'https://x/'), String(u), u.toJSON(), JSON.stringify({ u }),
        Object.prototype.toString.call(u)];
    })()`);
    expect(result).toEqual([
      true,
      true,
      'https://b.example/dir/file.txt',
      'https://b.example/dir/file.txt',
      '{"u":"https://b.example/dir/file.txt"}',
      '[object URL]',
    ]);
  });

  it('rejects over-long inputs without calling the host', async () => {
    const thrown = await isolate.thrown(`new URL('http://a/' + 'x'.repeat(1 << 20))`);
    expect(thrown.message).toBe('Invalid URL');
  });
});

describe('URL setters', () => {
  type Settable = Exclude<(typeof components)[number], 'origin'>;
  const cases: Array<[string, Settable, string]> = [
    ['http://a.example/p', 'href', 'https://b.example/q?x#y'],
    ['http://a.example/p', 'protocol', 'https'],
    ['http://a.example/p', 'protocol', 'https:xx'],
    ['http://a.example/p', 'protocol', 'foo'],
    ['foo://a.example/p', 'protocol', 'http'],
    ['http://a.example/p', 'protocol', 'ht tp'],
    ['http://u@a.example/p', 'protocol', 'file'],
    ['http://a.example:443/p', 'protocol', 'https'],
    ['http://a.example/p', 'username', 'us er@:/'],
    ['http://a.example/p', 'password', 'p@ss/w:rd'],
    ['http://u:p@a.example/p', 'username', ''],
    ['http://u:p@a.example/p', 'password', ''],
    ['file:///p', 'username', 'x'],
    ['http://a.example:81/p', 'host', 'b.example'],
    ['http://a.example:81/p', 'host', 'b.example:99'],
    ['http://a.example:81/p', 'host', 'b.example:99999'],
    ['http://a.example:81/p', 'host', 'b.example:8x'],
    ['http://a.example/p', 'host', '[::1]:5'],
    ['http://a.example/p', 'host', ''],
    ['http://a.example/p', 'host', 'b c'],
    ['http://a.example/p', 'host', 'u@b'],
    ['http://a.example/p', 'host', 'b.example/path?q'],
    ['foo:/x', 'host', 'h'],
    ['foo://x/p', 'host', ''],
    ['foo://u@x/p', 'host', ''],
    ['mailto:x@y', 'host', 'q'],
    ['file://h/x', 'host', ''],
    ['file:///x', 'host', 'localhost'],
    ['http://a.example:81/p', 'hostname', 'c.example'],
    ['http://a.example:81/p', 'hostname', 'c.example:99'],
    ['http://a.example/p', 'hostname', '[::2]'],
    ['http://a.example/p', 'port', '8080'],
    ['http://a.example/p', 'port', '8080abc'],
    ['http://a.example:81/p', 'port', ''],
    ['http://a.example:81/p', 'port', 'abc'],
    ['http://a.example:81/p', 'port', '99999'],
    ['http://a.example/p', 'port', '80'],
    ['https://a.example/p', 'port', '0443'],
    ['file:///p', 'port', '80'],
    ['http://a.example/p?q#h', 'pathname', 'a b?c#d'],
    ['http://a.example/p', 'pathname', 'no-slash'],
    ['http://a.example/p', 'pathname', ''],
    ['http://a.example/p', 'pathname', '\\back\\slash'],
    ['http://a.example/p', 'pathname', '/a/../b/./c'],
    ['http://a.example/p', 'pathname', ' trailing '],
    ['foo://x/p', 'pathname', ''],
    ['foo:/a', 'pathname', '//b'],
    ['mailto:x@y', 'pathname', 'z'],
    ['http://a.example/p?q#h', 'search', 'a=1&b=2'],
    ['http://a.example/p?q#h', 'search', '?x y#z'],
    ['http://a.example/p?q#h', 'search', ''],
    ['http://a.example/p#h', 'search', '?'],
    ['http://a.example/p?q#h', 'hash', 'new hash'],
    ['http://a.example/p?q#h', 'hash', '#'],
    ['http://a.example/p?q#h', 'hash', ''],
    ['http://a.example/?', 'hash', 'x'],
    ['http://a.example/p', 'hash', ' a '],
    ['http://a.example/p', 'search', '\u00e9=\u00e9'],
  ];

  it.each(cases)('on %s setting %s = %j matches Node', async (href, key, value) => {
    const result = await isolate.evaluate(
      `(() => { const u = new URL(${JSON.stringify(href)}); u[${JSON.stringify(key)}] = ${JSON.stringify(value)}; return ${inGuestComponents}; })()`,
    );
    const url = new URL(href);
    url[key] = value;
    expect(result).toEqual(nodeComponents(url));
  });

  it('href setter throws TypeError on an invalid URL and keeps the old one', async () => {
    const result = await isolate.run(`
      const u = new URL('http://a.example/');
      try { u.href = 'nope'; } catch (e) { return [e.constructor.name, u.href]; }`);
    expect(result).toEqual(['TypeError', 'http://a.example/']);
  });
});

describe('URL.searchParams is live both ways', () => {
  it('reflects search changes and writes mutations back', async () => {
    const result = await isolate.run(`
      const u = new URL('http://a.example/p?a=1&b=2#h');
      const params = u.searchParams;
      const seen = [params.get('a'), params === u.searchParams];
      params.append('c', 'x y');
      seen.push(u.href);
      u.search = '?z=9';
      seen.push(params.get('z'), params.get('a'), params.size);
      params.delete('z');
      seen.push(u.href, u.search);
      u.href = 'http://b.example/?k=v';
      seen.push(params.get('k'));
      params.sort();
      params.set('é', '€');
      seen.push(u.href, u.search);
      return seen;`);
    const u = new URL('http://a.example/p?a=1&b=2#h');
    const params = u.searchParams;
    const expected: unknown[] = [params.get('a'), true];
    params.append('c', 'x y');
    expected.push(u.href);
    u.search = '?z=9';
    expected.push(params.get('z'), params.get('a'), params.size);
    params.delete('z');
    expected.push(u.href, u.search);
    u.href = 'http://b.example/?k=v';
    expected.push(params.get('k'));
    params.sort();
    params.set('é', '€');
    expected.push(u.href, u.search);
    expect(result).toEqual(expected);
  });
});

describe('URLSearchParams', () => {
  const queries = [
    '',
    '?a=1&b=2&a=3',
    'a=b=c&&=x&y',
    'q=%20%2B+plus&bad=%zz%4',
    'emoji=%F0%9F%98%80&bad=%FF',
    'é=ü',
  ];

  it.each(queries)('parses and serializes %j like Node', async (query) => {
    const result = await isolate.evaluate(
      `(() => { const p = new URLSearchParams(${JSON.stringify(query)}); return [[...p], p.toString(), p.size]; })()`,
    );
    const p = new URLSearchParams(query);
    expect(result).toEqual([[...p], p.toString(), p.size]);
  });

  it('serializes with application/x-www-form-urlencoded rules', async () => {
    const value = ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~é😀';
    const result = await isolate.evaluate(`new URLSearchParams({ k: ${JSON.stringify(value)} }).toString()`);
    expect(result).toBe(new URLSearchParams({ k: value }).toString());
  });

  it('constructs from records, pairs, iterables and other params', async () => {
    const result = await isolate.evaluate(`(() => {
      const fromRecord = new URLSearchParams({ a: '1', b: 2 });
      const fromPairs = new URLSearchParams([['x', '1'], ['x', '2']]);
      const fromMap = new URLSearchParams(new Map([['m', 'v']]));
      const copy = new URLSearchParams(fromPairs);
      copy.append('y', '3');
      return [fromRecord.toString(), fromPairs.toString(), fromMap.toString(), copy.toString(), fromPairs.toString(),
        new URLSearchParams(null).toString(), new URLSearchParams({ '\\ud800': '\\udc00' }).toString()];
    })()`);
    const copy = new URLSearchParams([
      ['x', '1'],
      ['x', '2'],
    ]);
    copy.append('y', '3');
    expect(result).toEqual([
      'a=1&b=2',
      'x=1&x=2',
      'm=v',
      copy.toString(),
      'x=1&x=2',
      // WebIDL converts null to the string "null" (browsers agree); Node alone treats it as empty.
      'null=',
      new URLSearchParams({ '\ud800': '\udc00' }).toString(),
    ]);
  });

  it('throws TypeError for pairs that are not exactly two items', async () => {
    expect((await isolate.thrown(`new URLSearchParams([['a']])`)).constructorName).toBe('TypeError');
    expect((await isolate.thrown(`new URLSearchParams([['a', 'b', 'c']])`)).constructorName).toBe(
      'TypeError',
    );
    expect((await isolate.thrown(`new URLSearchParams([1])`)).constructorName).toBe('TypeError');
  });

  it('implements get/getAll/has/set/delete (with value)/sort/forEach/keys/values like Node', async () => {
    const script = (p: string): string => `
      const p = ${p};
      const out = [p.get('a'), p.get('missing'), p.getAll('a'), p.has('b'), p.has('a', '3'), p.has('a', '9')];
      p.set('a', 'only');
      out.push(p.toString());
      p.append('a', 'again'); p.append('z', '0'); p.append('b', '1');
      p.delete('a', 'again');
      out.push(p.toString());
      p.sort();
      out.push(p.toString(), [...p.keys()], [...p.values()], [...p.entries()]);
      const each = [];
      p.forEach(function (v, k, self) { each.push([k, v, self === p, this.tag]); }, { tag: 't' });
      out.push(each, p.size, Object.prototype.toString.call(p), Object.prototype.toString.call(p.keys()) !== '');
      return out;`;
    const guest = await isolate.run(script(`new URLSearchParams('a=1&b=2&a=3')`));
    const expected = runInNode(script(`new URLSearchParams('a=1&b=2&a=3')`));
    expect(guest).toEqual(expected);
  });
});
