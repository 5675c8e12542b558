import { describe, expect, it } from 'vitest';
import { withLocalNames } from './local-names.js';

describe('withLocalNames', () => {
  it('strips the namespace off function-name fields at any depth, and nothing else', () => {
    const reply = {
      function: { name: 'team-a.hello', description: 'team-a.hello stays in prose' },
      version: {
        functionName: 'team-a.hello',
        config: { async: { onSuccess: 'team-a.sink', onFailure: 'https://x.test/' } },
      },
      invocations: [{ functionName: 'team-a.hello', id: 'team-a.not-a-name-field' }],
      other: { name: 'team-b.hello' },
    };
    expect(withLocalNames(reply, 'team-a.')).toEqual({
      function: { name: 'hello', description: 'team-a.hello stays in prose' },
      version: {
        functionName: 'hello',
        config: { async: { onSuccess: 'sink', onFailure: 'https://x.test/' } },
      },
      invocations: [{ functionName: 'hello', id: 'team-a.not-a-name-field' }],
      // Never another namespace's prefix: a reply holds only the caller's own functions anyway.
      other: { name: 'team-b.hello' },
    });
  });

  it('copies: the record it was given (perhaps a cached one) is unchanged', () => {
    const cached = { functionName: 'team-a.hello', config: { memoryMb: 128 } };
    const copy = withLocalNames(cached, 'team-a.') as typeof cached;
    expect(cached.functionName).toBe('team-a.hello');
    expect(copy.config).not.toBe(cached.config);
  });
});
