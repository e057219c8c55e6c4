import { describe, expect, it } from 'vitest';
import { selectorMatches, translateAuthorizationPolicy } from './authorization.ts';
import { istio } from './pb.ts';

const { Scope, Action } = istio.security;
const tr = (ns: string, spec: object) => translateAuthorizationPolicy(ns, 'p', spec, 'istio-system');

describe('translateAuthorizationPolicy scope', () => {
  it('is GLOBAL in the root namespace without a selector', () => {
    expect(tr('istio-system', {}).authorization?.scope).toBe(Scope.GLOBAL);
  });
  it('is NAMESPACE elsewhere without a selector', () => {
    const t = tr('default', {});
    expect(t.authorization).toMatchObject({ name: 'p', namespace: 'default', scope: Scope.NAMESPACE, action: Action.ALLOW, rules: [] });
    expect(t.selected).toBe(false);
  });
  it('is WORKLOAD_SELECTOR with a selector, even in the root namespace', () => {
    const t = tr('istio-system', { selector: { matchLabels: { app: 'a' } } });
    expect(t.authorization?.scope).toBe(Scope.WORKLOAD_SELECTOR);
    expect(t.selected).toBe(true);
  });
  it('skips targetRef policies (waypoints enforce them) and unsupported actions', () => {
    expect(tr('default', { targetRefs: [{ kind: 'Service', name: 's' }] })).toEqual({ selected: false });
    const custom = tr('default', { action: 'CUSTOM', provider: { name: 'ext' } });
    expect(custom.authorization).toBeUndefined();
    expect(custom.warning).toMatch(/CUSTOM action/);
  });
});

describe('translateAuthorizationPolicy rules', () => {
  it('makes one rule per policy rule with to, from and when clauses', () => {
    const t = tr('default', {
      action: 'DENY',
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/a/sa/b', '*', '*/sa/x', 'spiffe-*'], notNamespaces: ['kube-system'] } }, { source: { ipBlocks: ['10.0.0.0/8'], notIpBlocks: ['10.1.2.3'] } }],
          to: [{ operation: { ports: ['8080', 'http', '70000'], notPorts: ['9090'] } }],
          when: [
            { key: 'source.namespace', values: ['x'], notValues: ['y'] },
            { key: 'destination.port', notValues: ['22'] },
            { key: 'source.ip', values: ['192.168.0.0/16'] },
            { key: 'source.principal', values: ['td/ns/a/sa/*'] },
          ],
        },
      ],
    });
    expect(t.warning).toBeUndefined();
    const rule = t.authorization!.rules![0]!;
    expect(t.authorization!.action).toBe(Action.DENY);
    expect(rule.clauses).toEqual([
      { matches: [{ destinationPorts: [8080], notDestinationPorts: [9090] }] },
      {
        matches: [
          {
            principals: [{ exact: 'cluster.local/ns/a/sa/b' }, { presence: {} }, { suffix: '/sa/x' }, { prefix: 'spiffe-' }],
            notNamespaces: [{ exact: 'kube-system' }],
          },
          { sourceIps: [{ address: new Uint8Array([10, 0, 0, 0]), length: 8 }], notSourceIps: [{ address: new Uint8Array([10, 1, 2, 3]), length: 32 }] },
        ],
      },
      { matches: [{ namespaces: [{ exact: 'x' }], notNamespaces: [{ exact: 'y' }] }] },
      { matches: [{ notDestinationPorts: [22] }] },
      { matches: [{ sourceIps: [{ address: new Uint8Array([192, 168, 0, 0]), length: 16 }] }] },
      { matches: [{ principals: [{ prefix: 'td/ns/a/sa/' }] }] },
    ]);
  });
  it('reads service accounts as ns/sa or as sa in the policy namespace', () => {
    const t = tr('shop', { rules: [{ from: [{ source: { serviceAccounts: ['cart', 'pay/api'], notServiceAccounts: ['x/y'] } }] }] });
    expect(t.authorization!.rules![0]!.clauses![0]!.matches![0]).toEqual({
      serviceAccounts: [{ namespace: 'shop', serviceAccount: 'cart' }, { namespace: 'pay', serviceAccount: 'api' }],
      notServiceAccounts: [{ namespace: 'x', serviceAccount: 'y' }],
    });
  });
  it('keeps an empty rule (it matches everything)', () => {
    expect(tr('default', { rules: [{}] }).authorization!.rules).toEqual([{ clauses: [] }]);
  });
  it('leaves out ALLOW rules with HTTP attributes, with a warning', () => {
    const t = tr('default', {
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['80'] } }] }, { from: [{ source: { namespaces: ['a'] } }] }, { when: [{ key: 'request.headers[x]', values: ['1'] }] }],
    });
    expect(t.authorization!.rules).toEqual([{ clauses: [{ matches: [{ namespaces: [{ exact: 'a' }] }] }] }]);
    expect(t.warning).toMatch(/found: methods, request\.headers\[x\]/);
    expect(t.warning).toMatch(/ALLOW rules that use them are left out/);
  });
  it('keeps the L4 part of DENY rules with HTTP attributes', () => {
    const t = tr('default', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'], ports: ['80'] } }], from: [{ source: { requestPrincipals: ['*'] } }] }] });
    expect(t.authorization!.rules).toEqual([{ clauses: [{ matches: [{ destinationPorts: [80] }] }, { matches: [{}] }] }]);
    expect(t.warning).toMatch(/paths, requestPrincipals/);
  });
});

describe('selectorMatches', () => {
  it('needs every label', () => {
    expect(selectorMatches({ matchLabels: { app: 'a', v: '1' } }, { app: 'a', v: '1', x: 'y' })).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'a', v: '1' } }, { app: 'a' })).toBe(false);
    expect(selectorMatches({}, { app: 'a' })).toBe(true);
  });
});

describe('translateAuthorizationPolicy AUDIT', () => {
  it('becomes a dry-run DENY (reported by node proxies, never enforced)', () => {
    const t = tr('default', { action: 'AUDIT', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] });
    expect(t.authorization).toMatchObject({ action: Action.DENY, dryRun: true, rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: 'x' }] }] }] }] });
    expect(t.warning).toBeUndefined();
  });
  it('keeps the L4 part of rules with HTTP attributes and says so', () => {
    const t = tr('default', { action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['80'] } }] }] });
    expect(t.authorization?.rules).toHaveLength(1);
    expect(t.warning).toMatch(/AUDIT rules are evaluated without them/);
  });
});
