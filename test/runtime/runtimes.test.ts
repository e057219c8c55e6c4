/**
 * core/ runs unchanged on Node, Deno and workerd (issue 2, design.md 8): the same core scenario
 * runs here in Node, in real Deno from the TypeScript sources, and in real workerd from an esbuild
 * bundle without nodejs_compat, and the three JSON results must be identical and non-trivial.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, runInDeno, runInWorkerd } from './harness.ts';
import type { RuntimeRun } from './harness.ts';
import { runCoreScenario } from './scenario.ts';
import type { ScenarioResult } from './scenario.ts';

let node: ScenarioResult;
let deno: PromiseSettledResult<RuntimeRun>;
let workerd: PromiseSettledResult<RuntimeRun>;

beforeAll(async () => {
  // The two children start together; each is bounded by the harness (20 s) below the hook's 30 s.
  [deno, workerd] = await Promise.allSettled([runInDeno(), runInWorkerd()]);
  node = await runCoreScenario();
});

afterAll(() => killAll());

function settled(run: PromiseSettledResult<RuntimeRun>): RuntimeRun {
  if (run.status === 'rejected') throw run.reason;
  return run.value;
}

describe('the core scenario', () => {
  it('does real work in Node', () => {
    expect(node.clockOk).toBe(true);
    expect(node.snapshot.version).toBeGreaterThanOrEqual(1);
    expect(node.snapshot.trustDomain).toBe('example.org');
    expect(node.snapshot.services.length).toBeGreaterThanOrEqual(2);
    expect(node.snapshot.workloads.length).toBeGreaterThanOrEqual(3);
    expect(Object.values(node.resourceCounts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5);
    // The bad Service is rejected with file, line, resource and field; the Deployment is reported.
    expect(node.errors).toBeGreaterThanOrEqual(1);
    expect(node.issues.join('\n')).toMatch(/bookinfo\/broken\.yaml:11: Service bookinfo\/details: spec\.ports\[0\]\.port: /);
    expect(node.issues.join('\n')).toMatch(/Deployment bookinfo\/productpage/);
    expect(node.xds.length).toBeGreaterThanOrEqual(1);
    for (const group of node.xds) {
      expect(group.count, group.typeUrl).toBeGreaterThan(0);
      expect(group.bytes, group.typeUrl).toBeGreaterThan(group.count);
      expect(group.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(node.totalBytes).toBe(node.xds.reduce((n, g) => n + g.bytes, 0));
  });

  it('gives the same result in Deno, run from the TypeScript sources', () => {
    const run = settled(deno);
    expect(run.runtime).toBe('deno');
    expect(run.version).toMatch(/^\d+\.\d+/);
    expect(run.result).toEqual(node);
  });

  it('gives the same result in workerd, without nodejs_compat', () => {
    const run = settled(workerd);
    expect(run.runtime).toBe('workerd');
    expect(run.version).toBe('Cloudflare-Workers');
    // Proof that nothing on the way needed Node's globals: workerd has neither without nodejs_compat.
    expect(run.env).toEqual({ process: 'undefined', Buffer: 'undefined' });
    expect(run.result).toEqual(node);
  });
});
