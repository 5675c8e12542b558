import { describe, expect, it } from 'vitest';
import { FunctionSlots } from './function-slots.js';

describe('FunctionSlots', () => {
  it('admits up to the limit per key, then in arrival order as slots free up', async () => {
    const slots = new FunctionSlots();
    const first = await slots.acquire('a', 2);
    const second = await slots.acquire('a', 2);
    const order: string[] = [];
    const third = slots.acquire('a', 2).then((release) => {
      order.push('third');
      return release;
    });
    const fourth = slots.acquire('a', 2).then((release) => {
      order.push('fourth');
      return release;
    });
    // Another key is not held up.
    const other = await slots.acquire('b', 2);
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(slots.running('a')).toBe(2);

    first();
    first(); // releasing twice frees one slot only
    const thirdRelease = await third;
    expect(order).toEqual(['third']);
    expect(slots.running('a')).toBe(2);
    second();
    (await fourth)();
    thirdRelease();
    other();
    expect(order).toEqual(['third', 'fourth']);
    expect(slots.running('a')).toBe(0);
  });
});
