import { expect } from 'vitest';
import { StratoError } from '../../src/core/strato-error.js';

/** Asserts that `promise` rejects with a StratoError of this code (errors are matched by code). */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toSatisfy((error) => error instanceof StratoError && error.code === code);
}

/** Asserts that `run` throws a StratoError of this code, synchronously. */
export function expectThrowsCode(run: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown instanceof StratoError ? thrown.code : thrown).toBe(code);
}
