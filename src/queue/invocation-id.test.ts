import { describe, expect, it } from 'vitest';
import { newInvocationId } from './invocation-id.js';

describe('newInvocationId', () => {
  it('makes version-7 UUIDs that sort in the order they were made, even within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => newInvocationId(1_700_000_000_000));
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newInvocationId(1_800_000_000_000) > (ids.at(-1) ?? '')).toBe(true);
  });
});
