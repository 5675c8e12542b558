import { describe, expect, it } from 'vitest';
import { EgressDenied, EgressPolicy, type Lookup } from './egress-policy.js';

const dns =
  (answers: Record<string, string[]>): Lookup =>
  (hostname) =>
    Promise.resolve(
      (answers[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

const PUBLIC = '93.184.215.14';

async function denied(policy: EgressPolicy, url: string): Promise<string> {
  try {
    await policy.vet(new URL(url));
  } catch (error) {
    if (error instanceof EgressDenied) return error.message;
    throw error;
  }
  throw new Error(`${url} was allowed`);
}

describe('EgressPolicy', () => {
  it('allows only hosts matching a pattern, with ports and wildcards as written', async () => {
    const policy = new EgressPolicy(
      ['api.example.com', '*.cdn.example.com', 'ports.example.com:8443'],
      [],
      dns({ 'api.example.com': [PUBLIC], 'a.b.cdn.example.com': [PUBLIC], 'ports.example.com': [PUBLIC] }),
    );
    expect(await policy.vet(new URL('https://API.example.com/x'))).toStrictEqual({
      address: PUBLIC,
      family: 4,
    });
    expect((await policy.vet(new URL('http://a.b.cdn.example.com/'))).address).toBe(PUBLIC);
    expect((await policy.vet(new URL('https://ports.example.com:8443/'))).address).toBe(PUBLIC);
    expect(await denied(policy, 'https://cdn.example.com/')).toMatch(/EGRESS_DENIED/);
    expect(await denied(policy, 'https://ports.example.com/')).toMatch(/not allowed for this function/);
    expect(await denied(policy, 'https://evil-api.example.com/')).toMatch(/not allowed/);
    expect(await denied(policy, 'https://api.example.com.evil.net/')).toMatch(/not allowed/);
  });

  it('blocks loopback, private, link-local, metadata and reserved addresses even when the pattern matches', async () => {
    const literals = [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
    ];
    for (const ip of literals) {
      expect(await denied(new EgressPolicy([ip]), `http://${ip}/`)).toMatch(/blocked/);
    }
    // Names that resolve to them: a pattern never opens what the address closes (DNS, v6, mapped v4).
    const policy = new EgressPolicy(
      [
        'internal.example.com',
        'v6.example.com',
        'mapped.example.com',
        'mixed.example.com',
        'ula.example.com',
      ],
      [],
      dns({
        'internal.example.com': ['10.0.0.5'],
        'v6.example.com': ['::1'],
        'mapped.example.com': ['::ffff:169.254.169.254'],
        'mixed.example.com': [PUBLIC, '192.168.0.10'],
        'ula.example.com': ['fd00::1'],
      }),
    );
    for (const host of ['internal', 'v6', 'mapped', 'mixed', 'ula']) {
      expect(await denied(policy, `http://${host}.example.com/`)).toMatch(/blocked/);
    }
    expect(await denied(new EgressPolicy(['[::1]']), 'http://[::1]/')).toMatch(/not allowed|blocked/);
    expect(
      await denied(new EgressPolicy(['nowhere.example.com'], [], dns({})), 'http://nowhere.example.com/'),
    ).toMatch(/does not resolve/);
  });

  it('connects to the address it checked, so a second, different DNS answer (rebinding) is never used', async () => {
    let calls = 0;
    const rebinding: Lookup = () => {
      calls += 1;
      return Promise.resolve([{ address: calls === 1 ? PUBLIC : '127.0.0.1', family: 4 }]);
    };
    const policy = new EgressPolicy(['rebind.example.com'], [], rebinding);
    expect(await policy.vet(new URL('http://rebind.example.com/'))).toStrictEqual({
      address: PUBLIC,
      family: 4,
    });
    expect(calls).toBe(1);
    // Asked again, the new (private) answer is refused rather than trusted.
    expect(await denied(policy, 'http://rebind.example.com/')).toMatch(/blocked/);
  });

  it("opens only the operator's networks, and only to functions whose pattern matches", async () => {
    const policy = new EgressPolicy(
      ['127.0.0.1', 'db.internal'],
      ['127.0.0.1/32', '10.9.0.0/16'],
      dns({ 'db.internal': ['10.9.1.2'] }),
    );
    expect((await policy.vet(new URL('http://127.0.0.1:9000/'))).address).toBe('127.0.0.1');
    expect((await policy.vet(new URL('http://db.internal/'))).address).toBe('10.9.1.2');
    expect(await denied(policy, 'http://127.0.0.2/')).toMatch(/not allowed for this function/);
    expect(await denied(new EgressPolicy(['127.0.0.2'], ['127.0.0.1/32']), 'http://127.0.0.2/')).toMatch(
      /blocked/,
    );
  });
});
