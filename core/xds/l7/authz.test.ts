// @ts-nocheck -- decoded messages type repeated fields as nullable (`| null`); the assertions check them at run time.
import { describe, expect, it } from 'vitest';
import { envoy } from '../pb.ts';
import { L7Translation } from './translate-l7.ts';
import { gateway, infra, snapshotOf, svc } from './l7-fixtures.test-support.ts';
import type { L7Proxy } from './scope.ts';

const NS = 'gateway-conformance-infra';
const HCM = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
const RBAC = envoy.extensions.filters.http.rbac.v3.RBAC;
const JWT = envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication;
const EXT = envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
const GW: L7Proxy = { role: 'gateway', namespace: NS, name: 'same-namespace', labels: { istio: 'ingressgateway' } };

const ap = (name: string, spec: string, ns = NS, annotations = '') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns}${annotations ? `, annotations: { ${annotations} }` : ''} }
spec:
${spec}`;

/** The http_filters of the gateway's first listener, decoded by type. */
function filters(snapshotDocs: string[], proxy: L7Proxy = GW): any[] {
  const l7 = new L7Translation(snapshotOf(...snapshotDocs));
  const scope = l7.scope(l7.servedBy(proxy));
  const l = envoy.config.listener.v3.Listener.decode(scope.listeners[0]!.bytes);
  const hcm = HCM.decode(l.filterChains[0].filters[0].typedConfig.value);
  return hcm.httpFilters.map((f) => {
    const t = f.typedConfig.typeUrl;
    const v = f.typedConfig.value;
    return { name: f.name, config: t.endsWith('.RBAC') ? RBAC.decode(v) : t.endsWith('JwtAuthentication') ? JWT.decode(v) : t.endsWith('ExtAuthz') ? EXT.decode(v) : undefined };
  });
}

/** A decoded message as plain JSON (drops protobufjs's defaults noise). */
const plain = (m: unknown) => JSON.parse(JSON.stringify(m));

describe('AuthorizationPolicy -> envoy.filters.http.rbac (istiod builder)', () => {
  it("translates istio.io's ALLOW example field by field", () => {
    const fs = filters([
      ...infra,
      gateway('same-namespace'),
      ap(
        'httpbin',
        `  selector: { matchLabels: { istio: ingressgateway } }
  action: ALLOW
  rules:
  - from:
    - source: { principals: ["cluster.local/ns/default/sa/sleep"] }
    - source: { namespaces: ["test"] }
    to:
    - operation: { methods: ["GET"], paths: ["/info*"] }
    - operation: { methods: ["POST"], paths: ["/data"] }
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
`,
      ),
    ]);
    expect(fs.map((f) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.router']);
    const rules = plain(fs[0].config.rules);
    expect(rules.action ?? 0).toBe(0);
    const p = rules.policies[`ns[${NS}]-policy[httpbin]-rule[0]`];
    expect(p.permissions).toEqual([
      { andRules: { rules: [{ orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }] } }, { orRules: { rules: [{ urlPath: { path: { prefix: '/info' } } }] } }] } },
      { andRules: { rules: [{ orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'POST' } } }] } }, { orRules: { rules: [{ urlPath: { path: { exact: '/data' } } }] } }] } },
    ]);
    const iss = { metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: 'iss' }], value: { orMatch: { valueMatchers: [{ listMatch: { oneOf: { stringMatch: { exact: 'https://accounts.google.com' } } } }, { stringMatch: { exact: 'https://accounts.google.com' } }] } } } };
    expect(p.principals).toEqual([
      { andIds: { ids: [{ orIds: { ids: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/sleep' } } }] } }, iss] } },
      { andIds: { ids: [{ orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/test/.*' } } } }] } }, iss] } },
    ]);
  });

  it('orders AUDIT (LOG), DENY, ALLOW after jwt_authn; a policy without rules never matches', () => {
    const fs = filters([
      ...infra,
      gateway('same-namespace'),
      ap('allow-nothing', `  action: ALLOW\n`),
      ap('deny-admin', `  action: DENY\n  rules: [{ to: [{ operation: { paths: ["/admin*", "*.php"], notMethods: ["GET"] } }] }]\n`),
      ap('audit', `  action: AUDIT\n  rules: [{ to: [{ operation: { hosts: ["*.example.com"], ports: ["8080"] } }] }]\n`),
      `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: ${NS} }
spec:
  jwtRules: [{ issuer: "https://issuer.example", jwks: '{"keys":[]}' }]
`,
    ]);
    expect(fs.map((f) => [f.name, f.config?.rules?.action ?? null])).toEqual([
      ['envoy.filters.http.jwt_authn', null],
      ['envoy.filters.http.rbac', 2],
      ['envoy.filters.http.rbac', 1],
      ['envoy.filters.http.rbac', 0],
      ['envoy.filters.http.router', null],
    ]);
    expect(plain(fs[4 - 1].config.rules.policies[`ns[${NS}]-policy[allow-nothing]-rule[0]`])).toEqual({ permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] });
    const deny = plain(fs[2].config.rules.policies[`ns[${NS}]-policy[deny-admin]-rule[0]`]);
    expect(deny.permissions[0].andRules.rules).toEqual([
      { notRule: { orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }] } } },
      { orRules: { rules: [{ urlPath: { path: { prefix: '/admin' } } }, { urlPath: { path: { suffix: '.php' } } }] } },
    ]);
    const audit = plain(fs[1].config.rules.policies[`ns[${NS}]-policy[audit]-rule[0]`]);
    expect(audit.permissions[0].andRules.rules).toEqual([
      { orRules: { rules: [{ header: { name: ':authority', stringMatch: { suffix: '.example.com', ignoreCase: true } } }] } },
      { orRules: { rules: [{ destinationPort: 8080 }] } },
    ]);
    const jwt = plain(fs[0].config);
    expect(jwt.providers['origins-0']).toMatchObject({ issuer: 'https://issuer.example', payloadInMetadata: 'payload', localJwks: { inlineString: '{"keys":[]}' } });
    expect(jwt.rules).toMatchObject([{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }]);
  });

  it('translates requestPrincipals, remoteIpBlocks, headers and notPrincipals as istiod', () => {
    const fs = filters([
      ...infra,
      gateway('same-namespace'),
      ap(
        'p',
        `  rules:
  - from:
    - source: { requestPrincipals: ["https://issuer.example/alice", "*"], remoteIpBlocks: ["10.0.0.0/8"], notPrincipals: ["*/sa/bad"] }
    when: [{ key: "request.headers[x-token]", values: ["abc*"] }, { key: destination.port, values: ["80"] }]
`,
      ),
    ]);
    const p = plain(fs[0].config.rules.policies[`ns[${NS}]-policy[p]-rule[0]`]);
    const md = (claim, m) => ({ metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: claim }], value: { stringMatch: m } } });
    expect(p.principals[0].andIds.ids).toEqual([
      { notId: { orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: 'spiffe://.*/sa/bad' } } } }] } } },
      {
        orIds: {
          ids: [
            { andIds: { ids: [md('iss', { exact: 'https://issuer.example' }), md('sub', { exact: 'alice' })] } },
            { andIds: { ids: [md('iss', { safeRegex: { regex: '.+' } }), md('sub', { safeRegex: { regex: '.+' } })] } },
          ],
        },
      },
      { orIds: { ids: [{ remoteIp: { addressPrefix: '10.0.0.0', prefixLen: { value: 8 } } }] } },
      { orIds: { ids: [{ header: { name: 'x-token', stringMatch: { prefix: 'abc' } } }] } },
    ]);
    expect(p.permissions).toEqual([{ andRules: { rules: [{ orRules: { rules: [{ destinationPort: 80 }] } }] } }]);
  });

  it('selects by labels and targetRefs; other namespaces, other labels and waypoint-only refs do not apply', () => {
    const docs = [
      ...infra,
      gateway('same-namespace'),
      ap('other-labels', `  selector: { matchLabels: { app: nope } }\n  action: DENY\n  rules: [{}]\n`),
      ap('other-ns', `  action: DENY\n  rules: [{}]\n`, 'default'),
      ap('by-ref', `  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: same-namespace }]\n  action: DENY\n  rules: [{ to: [{ operation: { paths: ["/x"] } }] }]\n`),
      ap('by-gateway-name-label', `  selector: { matchLabels: { gateway.networking.k8s.io/gateway-name: same-namespace } }\n  rules: [{}]\n`),
    ];
    const fs = filters(docs, { ...GW, labels: {} });
    expect(Object.keys(fs[0].config.rules.policies)).toEqual([`ns[${NS}]-policy[by-ref]-rule[0]`]);
    expect(Object.keys(fs[1].config.rules.policies)).toEqual([`ns[${NS}]-policy[by-gateway-name-label]-rule[0]`]);
  });

  it('CUSTOM: an RBAC filter whose shadow rules enable ext_authz for the extension provider', () => {
    const mesh = `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    extensionProviders:
    - name: my-authz
      envoyExtAuthzHttp:
        service: ext-authz.${NS}.svc.cluster.local
        port: 8000
        includeRequestHeadersInCheck: ["x-ext-authz"]
        headersToUpstreamOnAllow: ["x-user"]
        failOpen: false
`;
    const fs = filters([
      ...infra,
      svc('ext-authz', NS, '10.96.0.9', 8000),
      mesh,
      gateway('same-namespace'),
      ap('ext', `  action: CUSTOM\n  provider: { name: my-authz }\n  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]\n`),
    ]);
    expect(fs.map((f) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
    const shadow = plain(fs[0].config);
    expect(shadow.rules).toBeUndefined();
    expect(shadow.shadowRulesStatPrefix).toBe('istio_ext_authz_');
    expect(Object.keys(shadow.shadowRules.policies)).toEqual([`istio-ext-authz-my-authz-ns[${NS}]-policy[ext]-rule[0]`]);
    expect(shadow.shadowRules.action).toBe(1);
    const ext = plain(fs[1].config);
    expect(ext.httpService.serverUri).toMatchObject({ uri: `http://ext-authz.${NS}.svc.cluster.local`, cluster: `outbound|8000||ext-authz.${NS}.svc.cluster.local` });
    expect(fs[1].config.httpService.serverUri.timeout.seconds).toEqual(expect.anything());
    expect(ext.filterEnabledMetadata).toEqual({ filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { stringMatch: { prefix: 'istio-ext-authz-my-authz' } } });
    expect(ext.allowedHeaders).toEqual({ patterns: [{ exact: 'x-ext-authz', ignoreCase: true }] });
    expect(ext.httpService.authorizationResponse.allowedUpstreamHeaders).toEqual({ patterns: [{ exact: 'x-user', ignoreCase: true }] });
  });

  it('CUSTOM with an unknown provider denies what the policy matches (istiod)', () => {
    const fs = filters([...infra, gateway('same-namespace'), ap('ext', `  action: CUSTOM\n  provider: { name: nope }\n  rules: [{}]\n`)]);
    expect(fs[0].config.rules.action).toBe(1);
    expect(Object.keys(fs[0].config.rules.policies)).toEqual([`istio-ext-authz-nope-ns[${NS}]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action`]);
  });

  it('a policy-free gateway keeps fault/CORS/router only', () => {
    expect(filters([...infra, gateway('same-namespace')]).map((f) => f.name)).toEqual(['envoy.filters.http.router']);
  });
});
