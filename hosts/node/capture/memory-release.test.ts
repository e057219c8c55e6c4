import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleMemoryRelease } from './memory-release.ts';

describe('scheduleMemoryRelease', () => {
  afterEach(() => void vi.useRealTimers());

  function harness(opts: { pageOut?: boolean } = {}) {
    const n = { trim: 0, pageOut: 0 };
    let cpu = 0; // microseconds of CPU the fake process has used
    const stop = scheduleMemoryRelease({
      firstMs: 3000,
      everyMs: 10_000,
      ...opts,
      release: { trim: () => (n.trim++, true), pageOut: () => (n.pageOut++, 1) },
      cpuMicros: () => cpu,
    });
    return { n, stop, burn: (ms: number) => void (cpu += ms * 1000) };
  }

  it('trims once after firstMs, then every everyMs, and never after stop()', () => {
    vi.useFakeTimers();
    const { n, stop } = harness();
    vi.advanceTimersByTime(2999);
    expect(n.trim).toBe(0);
    vi.advanceTimersByTime(1);
    expect(n.trim).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(n.trim).toBe(2);
    vi.advanceTimersByTime(20_000);
    expect(n.trim).toBe(4);
    stop();
    vi.advanceTimersByTime(60_000);
    expect(n.trim).toBe(4);
  });

  it('pages out with the first trim, then only when a busy process has gone quiet', () => {
    vi.useFakeTimers();
    const { n, burn } = harness();
    vi.advanceTimersByTime(3000);
    expect(n.pageOut).toBe(1);
    // idle: no new page-out (nothing ran that could have faulted pages back in)
    vi.advanceTimersByTime(30_000);
    expect(n.pageOut).toBe(1);
    // under load: 3 s of CPU per 10 s interval; its working set must stay resident
    for (let i = 0; i < 3; i++) {
      burn(3000);
      vi.advanceTimersByTime(10_000);
    }
    expect(n.pageOut).toBe(1);
    // the load stops: the next quiet interval pages out once, the ones after do not
    burn(50); // timers and the like: under 2% of 10 s
    vi.advanceTimersByTime(10_000);
    expect(n.pageOut).toBe(2);
    vi.advanceTimersByTime(30_000);
    expect(n.pageOut).toBe(2);
  });

  it('never pages out with pageOut: false', () => {
    vi.useFakeTimers();
    const { n, burn } = harness({ pageOut: false });
    vi.advanceTimersByTime(3000);
    burn(5000);
    vi.advanceTimersByTime(10_000);
    vi.advanceTimersByTime(10_000);
    expect(n.trim).toBe(3);
    expect(n.pageOut).toBe(0);
  });
});
