import { describe, expect, it } from 'vitest';
import { backoffDelay, renewalDelay } from './renewal.ts';

describe('renewal schedule', () => {
  const H = 3600_000;
  it('renews at half life, up to 5% earlier at random', () => {
    const cert = { notBefore: 0, notAfter: 24 * H };
    expect(renewalDelay(cert, 0, 0)).toBe(12 * H);
    expect(renewalDelay(cert, 0, 1)).toBe(12 * H - 0.05 * 24 * H);
    expect(renewalDelay(cert, 13 * H, 0)).toBe(0);
    // a back-dated notBefore does not eat into the schedule: half of what is left from issuance
    const shortLived = { notBefore: -60_000, notAfter: 5_000 };
    expect(renewalDelay(shortLived, 0, 0, {}, 0)).toBe(2_500);
    expect(renewalDelay(shortLived, 0, 0)).toBe(0);
  });
  it('backs off exponentially to the cap', () => {
    expect(backoffDelay(1, 1)).toBe(500);
    expect(backoffDelay(2, 1)).toBe(1000);
    expect(backoffDelay(20, 1)).toBe(30_000);
    expect(backoffDelay(20, 0)).toBe(15_000);
  });
});
