import { expect } from 'vitest';
import { StratoError } from '../../src/core/strato-error.js';

/** Asserts that `promise` rejects with a StratoError of this code (errors are matched by code). */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toSatisfy((error) => error instanceof StratoError && error.code === code);
}
