import { describe, expect, it } from 'vitest';
import { StratoError } from '../core/strato-error.js';
import { formatImageReference, parseImageReference, registryBaseUrl } from './image-reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof StratoError ? error.code : 'not a StratoError';
  }
  return undefined;
}

describe('parseImageReference', () => {
  it.each([
    ['127.0.0.1:5000/team/fn:v1', { registry: '127.0.0.1:5000', repository: 'team/fn', tag: 'v1' }],
    ['localhost/fn:latest', { registry: 'localhost', repository: 'fn', tag: 'latest' }],
    ['registry.example.com/a/b/c', { registry: 'registry.example.com', repository: 'a/b/c', tag: 'latest' }],
    [`ghcr.io/org/fn@${digest}`, { registry: 'ghcr.io', repository: 'org/fn', digest }],
    [`ghcr.io/org/fn:v2@${digest}`, { registry: 'ghcr.io', repository: 'org/fn', tag: 'v2', digest }],
    ['[::1]:5000/fn:t', { registry: '[::1]:5000', repository: 'fn', tag: 't' }],
    [
      'host:5000/my_app.v2/web-server__x:V1.0-rc_1',
      { registry: 'host:5000', repository: 'my_app.v2/web-server__x', tag: 'V1.0-rc_1' },
    ],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual({ tag: undefined, digest: undefined, ...expected });
  });

  it('refuses a reference without a registry, saying to name one', () => {
    for (const text of ['fn:latest', 'team/fn:latest', 'library/alpine']) {
      expect(() => parseImageReference(text)).toThrow(/registry/);
      expect(codeOf(() => parseImageReference(text))).toBe('INVALID_IMAGE_REFERENCE');
    }
  });

  it.each([
    '',
    ' 127.0.0.1:5000/fn:v1',
    '127.0.0.1:5000/Team/fn:v1', // uppercase repository
    '127.0.0.1:5000/team//fn:v1',
    '127.0.0.1:5000/team/fn-:v1',
    '127.0.0.1:5000/team/fn:.v1', // tag starting with .
    `127.0.0.1:5000/team/fn:${'t'.repeat(129)}`,
    '127.0.0.1:5000/team/fn@sha256:abc',
    `127.0.0.1:5000/team/fn@sha256:${'A'.repeat(64)}`,
    '127.0.0.1:99999/fn:v1',
    '127.0.0.1:5000/',
    '-bad.host/fn:v1',
    `example.com/${'a'.repeat(300)}:v1`,
    `example.com/${'a/'.repeat(300)}a:v1`,
  ])('refuses %j', (text) => {
    expect(codeOf(() => parseImageReference(text))).toBe('INVALID_IMAGE_REFERENCE');
  });

  it('refuses another digest algorithm as unsupported', () => {
    expect(codeOf(() => parseImageReference(`example.com/fn@sha512:${'a'.repeat(128)}`))).toBe(
      'UNSUPPORTED_IMAGE',
    );
  });

  it('formats back what it parsed', () => {
    for (const text of [
      '127.0.0.1:5000/team/fn:v1',
      `ghcr.io/org/fn:v2@${digest}`,
      `ghcr.io/org/fn@${digest}`,
    ]) {
      expect(formatImageReference(parseImageReference(text))).toBe(text);
    }
  });
});

describe('registryBaseUrl', () => {
  it('uses http for loopback and listed registries, https otherwise', () => {
    expect(registryBaseUrl('127.0.0.1:5000', [])).toBe('http://127.0.0.1:5000');
    expect(registryBaseUrl('127.8.9.10', [])).toBe('http://127.8.9.10');
    expect(registryBaseUrl('localhost:5000', [])).toBe('http://localhost:5000');
    expect(registryBaseUrl('[::1]:5000', [])).toBe('http://[::1]:5000');
    expect(registryBaseUrl('registry.internal:5000', ['registry.internal:5000'])).toBe(
      'http://registry.internal:5000',
    );
    expect(registryBaseUrl('registry.internal:5000', ['registry.internal'])).toBe(
      'http://registry.internal:5000',
    );
    expect(registryBaseUrl('registry.internal:5000', ['other.internal'])).toBe(
      'https://registry.internal:5000',
    );
    expect(registryBaseUrl('128.0.0.1:5000', [])).toBe('https://128.0.0.1:5000');
    expect(registryBaseUrl('127.0.0.1.example.com', [])).toBe('https://127.0.0.1.example.com');
    expect(registryBaseUrl('ghcr.io', [])).toBe('https://ghcr.io');
  });
});
