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
    expect(node.pipeline).toBe('core');
    expect(node.clockOk).toBe(true);
    // The embedded sample is clean and yields every resource type a client reads.
    expect(node.sample.errors, node.sample.issues.join('\n')).toBe(0);
    expect(node.sample.xds.map((g) => g.typeUrl.split('/')[1])).toEqual(expect.arrayContaining(['envoy.config.listener.v3.Listener', 'envoy.config.route.v3.RouteConfiguration', 'envoy.config.cluster.v3.Cluster', 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'istio.workload.Address']));
    for (const s of [node.sample, node.initial, node.changed]) {
      expect(s.version).toBeGreaterThanOrEqual(1);
      expect(s.services.length).toBeGreaterThanOrEqual(2);
      expect(s.workloads.length).toBeGreaterThanOrEqual(2);
      expect(s.totalResources).toBeGreaterThanOrEqual(10);
      expect(s.decoded).toBe(s.totalResources);
      for (const g of s.xds) {
        expect(g.names.length, g.typeUrl).toBeGreaterThan(0);
        expect(g.bytes, g.typeUrl).toBeGreaterThan(g.names.length);
        expect(g.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(s.totalBytes).toBe(s.xds.reduce((n, g) => n + g.bytes, 0));
    }
    // The scenario directory: mesh settings from the ConfigMap, the bad Service rejected with file,
    // line, resource and field, the Deployment reported, the good resources served.
    const initial = node.initial;
    expect(initial.trustDomain).toBe('example.org');
    expect(initial.issues.join('\n')).toMatch(/error: bookinfo\/broken\.yaml:11: Service bookinfo\/details: spec\.ports\[0\]\.port: /);
    expect(initial.issues.join('\n')).toMatch(/Deployment bookinfo\/productpage/);
    expect(initial.workloads).toContain('Kubernetes//Pod/bookinfo/reviews-v1@node-a spiffe://example.org/ns/bookinfo/sa/bookinfo-reviews 10.244.0.11');
    expect(initial.services).toContain('bookinfo/reviews.bookinfo.svc.cluster.local -> 10.244.0.11,192.168.1.40');
    // The edit: a new version; the broken Service keeps its last good version; only the moved pod's
    // resources change.
    const changed = node.changed;
    expect(changed.version).toBe(initial.version + 1);
    expect(changed.issues.join('\n')).toMatch(/bookinfo\/workloads\.yaml:\d+: Service bookinfo\/reviews: spec\.ports\[0\]\.port: /);
    expect(changed.services).toContain('bookinfo/reviews.bookinfo.svc.cluster.local -> 10.244.0.11,192.168.1.40');
    expect(changed.services).toContain('bookinfo/ratings.bookinfo.svc.cluster.local -> 10.244.0.13');
    expect(node.delta).toContain('Address Kubernetes//Pod/bookinfo/ratings-v1');
    expect(node.delta.length).toBeLessThan(changed.totalResources);
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
