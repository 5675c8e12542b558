import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebIsolate, type WebIsolate } from './harness.js';

let isolate: WebIsolate;
beforeAll(async () => {
  isolate = await createWebIsolate();
});
afterAll(() => isolate.dispose());

const strings = [
  '',
  'hello',
  'héllo wörld',
  '日本語',
  '😀 emoji 👍🏽',
  'a\u0000b',
  '\ud800 lone high',
  'lone low \udc00',
  'x\ud83d',
  '\ufeffbom',
];

describe('TextEncoder', () => {
  it.each(strings)('encodes %j like Node', async (input) => {
    const bytes = await isolate.evaluate<number[]>(
      `Array.from(new TextEncoder().encode(${JSON.stringify(input)}))`,
    );
    expect(bytes).toEqual(Array.from(new TextEncoder().encode(input)));
  });

  it('encodes non-strings via String() and has encoding utf-8', async () => {
    const result = await isolate.evaluate(
      `[Array.from(new TextEncoder().encode(123)), Array.from(new TextEncoder().encode()), new TextEncoder().encoding]`,
    );
    expect(result).toEqual([Array.from(new TextEncoder().encode('123')), [], 'utf-8']);
  });

  it.each([
    ['héllo', 0],
    ['héllo', 2],
    ['héllo', 3],
    ['😀😀', 5],
    ['abc', 10],
  ])('encodeInto(%j) with a %i-byte buffer matches Node', async (input, size) => {
    const result = await isolate.evaluate(
      `(() => { const d = new Uint8Array(${size}); const r = new TextEncoder().encodeInto(${JSON.stringify(input)}, d); return [r.read, r.written, Array.from(d)]; })()`,
    );
    const dest = new Uint8Array(size);
    const expected = new TextEncoder().encodeInto(input, dest);
    expect(result).toEqual([expected.read, expected.written, Array.from(dest)]);
  });

  it('encodeInto rejects a non-Uint8Array destination', async () => {
    const thrown = await isolate.thrown(`new TextEncoder().encodeInto('a', new Uint16Array(2))`);
    expect(thrown.constructorName).toBe('TypeError');
  });
});

const byteCases: number[][] = [
  [0x68, 0x69],
  [0xef, 0xbb, 0xbf, 0x41],
  [0xc3],
  [0xc3, 0x28],
  [0xe2, 0x82],
  [0xe2, 0x82, 0x28],
  [0xf0, 0x9f, 0x98],
  [0xf0, 0x9f, 0x98, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xff, 0xfe, 0x41],
  [0x80, 0x80, 0x61],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

describe('TextDecoder', () => {
  it.each(byteCases)('decodes %j with the same replacement characters as Node', async (...bytes) => {
    const text = await isolate.evaluate<string>(
      `new TextDecoder().decode(new Uint8Array(${JSON.stringify(bytes)}))`,
    );
    expect(text).toBe(new TextDecoder().decode(new Uint8Array(bytes)));
  });

  it.each(byteCases)('fatal mode on %j throws exactly when Node does', async (...bytes) => {
    const result = await isolate.run(`
      try { return { text: new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(${JSON.stringify(bytes)})) }; }
      catch (e) { return { error: e.constructor.name }; }`);
    let expected: unknown;
    try {
      expected = { text: new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes)) };
    } catch (error) {
      expected = { error: (error as Error).constructor.name };
    }
    expect(result).toEqual(expected);
  });

  it('strips the BOM unless ignoreBOM', async () => {
    const result = await isolate.evaluate(`[
      new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])),
      new TextDecoder('utf8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])),
    ]`);
    expect(result).toEqual(['A', '\ufeffA']);
  });

  it('decodes ArrayBuffer, DataView, other typed arrays and subarrays', async () => {
    const result = await isolate.evaluate(`(() => {
      const bytes = new TextEncoder().encode('xhéllo!');
      const d = new TextDecoder();
      return [
        d.decode(bytes.buffer),
        d.decode(new DataView(bytes.buffer, 1, 6)),
        d.decode(bytes.subarray(1, 3)),
        d.decode(new Uint16Array(new Uint8Array([0x61, 0x62, 0x63, 0x64]).buffer)),
        d.decode(),
        d.decode(undefined),
      ];
    })()`);
    expect(result).toEqual(['xhéllo!', 'héllo', 'h\ufffd', 'abcd', '', '']);
  });

  it('streams multi-byte sequences split across chunks', async () => {
    const result = await isolate.evaluate(`(() => {
      const d = new TextDecoder();
      const bytes = new TextEncoder().encode('a😀b€');
      let out = '';
      for (const b of bytes) out += d.decode(new Uint8Array([b]), { stream: true });
      out += d.decode();
      const truncated = new TextDecoder();
      const partial = truncated.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }) + '|' + truncated.decode();
      return [out, partial];
    })()`);
    expect(result).toEqual(['a😀b€', '|\ufffd']);
  });

  it('accepts UTF-8 labels and rejects other encodings with RangeError', async () => {
    const labels = await isolate.evaluate(
      `['utf-8', 'UTF8', ' unicode-1-1-utf-8 '].map((l) => new TextDecoder(l).encoding)`,
    );
    expect(labels).toEqual(['utf-8', 'utf-8', 'utf-8']);
    const thrown = await isolate.thrown(`new TextDecoder('latin1')`);
    expect(thrown.constructorName).toBe('RangeError');
    const notBuffer = await isolate.thrown(`new TextDecoder().decode('abc')`);
    expect(notBuffer.constructorName).toBe('TypeError');
  });

  it('round-trips large text', async () => {
    const result = await isolate.evaluate(`(() => {
      const text = 'abcé😀'.repeat(20000);
      return new TextDecoder().decode(new TextEncoder().encode(text)) === text;
    })()`);
    expect(result).toBe(true);
  });
});

describe('atob / btoa', () => {
  const binaryStrings = ['', 'a', 'ab', 'abc', 'hello world', '\u0000\u00ff\u0080', 'x'.repeat(1000)];

  it.each(binaryStrings)('btoa(%j) matches Node and round-trips through atob', async (input) => {
    const result = await isolate.evaluate<[string, string]>(
      `(() => { const b = btoa(${JSON.stringify(input)}); return [b, atob(b)]; })()`,
    );
    expect(result).toEqual([btoa(input), input]);
  });

  it.each(['aGVsbG8=', 'aGVsbG8', ' aGVs\nbG8= ', 'YQ==', 'YQ', 'YWI=', '', 'YW\tJj', 'ab+/'])(
    'atob(%j) matches Node',
    async (input) => {
      expect(await isolate.evaluate(`atob(${JSON.stringify(input)})`)).toBe(atob(input));
    },
  );

  it.each(['a', 'abcde', 'ab=c', 'a===', 'ab=', '@@@@', 'YQ===', 'é'])(
    'atob(%j) throws InvalidCharacterError like Node',
    async (input) => {
      expect(() => atob(input)).toThrow();
      const thrown = await isolate.thrown(`atob(${JSON.stringify(input)})`);
      expect(thrown).toMatchObject({ name: 'InvalidCharacterError', isDOMException: true, code: 5 });
    },
  );

  it('btoa rejects characters above U+00FF with InvalidCharacterError', async () => {
    const thrown = await isolate.thrown(`btoa('€')`);
    expect(thrown).toMatchObject({ name: 'InvalidCharacterError', isDOMException: true });
    expect(await isolate.evaluate(`btoa(null)`)).toBe(btoa('null'));
  });

  it('DOMException behaves like the platform one', async () => {
    const result = await isolate.evaluate(`(() => {
      const e = new DOMException('m', 'AbortError');
      const d = new DOMException();
      return [e.name, e.message, e.code, e instanceof Error, Object.prototype.toString.call(e), String(e),
        d.name, d.message, d.code, DOMException.ABORT_ERR, e.stack.split('\\n')[0], Object.keys(e)];
    })()`);
    const e = new DOMException('m', 'AbortError');
    const d = new DOMException();
    expect(result).toEqual([
      e.name,
      e.message,
      e.code,
      true,
      Object.prototype.toString.call(e),
      String(e),
      d.name,
      d.message,
      d.code,
      DOMException.ABORT_ERR,
      'AbortError: m',
      [],
    ]);
  });
});
