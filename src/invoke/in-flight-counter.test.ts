import { describe, expect, it } from 'vitest';
import { InFlightCounter } from './in-flight-counter.js';

describe('InFlightCounter', () => {
  it('counts each function apart, itself included, and counts again from where it was left', () => {
    const counter = new InFlightCounter();
    const first = counter.enter('a');
    expect(first.count).toBe(1);
    const second = counter.enter('a');
    expect(second.count).toBe(2);
    expect(counter.enter('b').count).toBe(1);
    counter.leave(first);
    counter.leave(second);
    expect(counter.enter('a').count).toBe(1);
  });
});
