import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleMallocTrim } from './malloc-trim.ts';

describe('scheduleMallocTrim', () => {
  afterEach(() => void vi.useRealTimers());

  it('trims once after firstMs, then every everyMs, and never after stop()', () => {
    vi.useFakeTimers();
    let n = 0;
    const stop = scheduleMallocTrim({ firstMs: 3000, everyMs: 10_000, trim: () => (n++, true) });
    vi.advanceTimersByTime(2999);
    expect(n).toBe(0);
    vi.advanceTimersByTime(1);
    expect(n).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(n).toBe(2);
    vi.advanceTimersByTime(20_000);
    expect(n).toBe(4);
    stop();
    vi.advanceTimersByTime(60_000);
    expect(n).toBe(4);
  });
});
