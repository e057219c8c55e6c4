/**
 * Gateway API HTTPRoute conformance, in the spirit of sigs.k8s.io/gateway-api conformance/tests
 * (v1.4 standard channel): the upstream cases' routes and expectations restated as a table, run
 * against ONE `weft control` + ONE `weft gateway` (the bundle) and conformance echo backends named
 * like upstream's pods. Every case's Gateway listens on port 80 of its own loopback address (the
 * Gateway's `spec.addresses`), so cases do not see each other's routes; all manifests sit in one
 * config directory. Probes compare as the upstream client does (test/support/conformance.ts), and
 * route status is read from the control plane's /debug/status `gatewayApi` section.
 */
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendOf, expectEventually, loopbackBlock, poll, roundTrip, startHarness, type BackendSpec, type Condition, type Expect, type Harness, type Req } from '../support/conformance.ts';

const NS = 'gateway-conformance-infra';
const WEB_NS = 'gateway-conformance-web-backend';
const V1 = 'infra-backend-v1';
const V2 = 'infra-backend-v2';
const V3 = 'infra-backend-v3';
const addr = loopbackBlock();
/** Per probe (upstream: 30 s); the config is in place before the first case runs, so this is generous. */
const BUDGET = Number(process.env.WEFT_PROBE_BUDGET_MS ?? 15_000);

type Probe = [Omit<Req, 'gw'> & { gw?: string }, Expect];

interface Case {
  name: string;
  /** Manifests; `a(j)` is the case's j-th gateway address. */
  yaml: (a: (j?: number) => string) => string;
  /** Routes that must be Accepted with ResolvedRefs True. */
  accepted?: string[];
  probes?: (a: (j?: number) => string) => Probe[];
}

/** A Gateway of class weft on `address`, listeners `[name, port, hostname?]` (default one plain HTTP on 80). */
function gateway(name: string, address: string, listeners: [string, number, string?][] = [['http', 80]], ns = NS): string {
  const ls = listeners.map(([n, p, h]) => `  - { name: ${n}, port: ${p}, protocol: HTTP${h ? `, hostname: "${h}"` : ''}, allowedRoutes: { namespaces: { from: Same } } }`).join('\n');
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${ns} }
spec:
  gatewayClassName: weft
  addresses: [{ type: IPAddress, value: ${address} }]
  listeners:
${ls}
`;
}

/** An HTTPRoute in the infra namespace: parent gateway name, then the spec's rest (YAML, indented 2). */
function route(name: string, parent: string, rest: string, ns = NS): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
  parentRefs: [{ name: ${parent} }]
${rest}`;
}

const be = (name: string, extra = '') => `{ name: ${name}, port: 8080${extra} }`;
const ok = (backend: string, extra: Partial<Expect> = {}): Expect => ({ backend, namespace: NS, ...extra });
const notFound: Expect = { status: 404 };
const docs = (...d: string[]) => d.join('---\n');

const CASES: Case[] = [
  {
    name: 'HTTPRouteSimpleSameNamespace',
    yaml: (a) => docs(gateway('simple', a()), route('gateway-conformance-infra-test', 'simple', `  rules: [{ backendRefs: [${be(V1)}] }]\n`)),
    accepted: ['gateway-conformance-infra-test'],
    probes: () => [[{ path: '/' }, ok(V1)]],
  },
  {
    // rule 1: prefix / OR version=one -> v1; rule 2: prefix /v2 OR version=two -> v2
    name: 'HTTPRouteMatching',
    yaml: (a) =>
      docs(
        gateway('matching', a()),
        route('matching', 'matching', `  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [${be(V2)}]
`),
      ),
    accepted: ['matching'],
    probes: () => [
      [{ path: '/' }, ok(V1)],
      [{ path: '/example' }, ok(V1)],
      [{ path: '/', headers: { Version: 'one' } }, ok(V1)],
      [{ path: '/v2' }, ok(V2)],
      [{ path: '/v2/example' }, ok(V2)],
      [{ path: '/', headers: { Version: 'two' } }, ok(V2)],
      [{ path: '/v2/' }, ok(V2)],
      [{ path: '/v2example' }, ok(V1)],
      [{ path: '/foo/v2/example' }, ok(V1)],
    ],
  },
  {
    // two routes share example.com; the second adds /v2 and version=two for example.com only
    name: 'HTTPRouteMatchingAcrossRoutes',
    yaml: (a) =>
      docs(
        gateway('across', a()),
        route('matching-part1', 'across', `  hostnames: [example.com, example.net]
  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [${be(V1)}]
`),
        route('matching-part2', 'across', `  hostnames: [example.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [${be(V2)}]
`),
      ),
    accepted: ['matching-part1', 'matching-part2'],
    probes: () => [
      [{ host: 'example.com', path: '/' }, ok(V1)],
      [{ host: 'example.com', path: '/example' }, ok(V1)],
      [{ host: 'example.net', path: '/example' }, ok(V1)],
      [{ host: 'example.com', path: '/example', headers: { Version: 'one' } }, ok(V1)],
      [{ host: 'example.com', path: '/v2' }, ok(V2)],
      [{ host: 'example.net', path: '/v2' }, ok(V1)],
      [{ host: 'example.com', path: '/v2/example' }, ok(V2)],
      [{ host: 'example.com', path: '/', headers: { Version: 'two' } }, ok(V2)],
    ],
  },
  {
    name: 'HTTPRouteExactPathMatching',
    yaml: (a) =>
      docs(
        gateway('exact', a()),
        route('exact-matching', 'exact', `  rules:
  - { matches: [{ path: { type: Exact, value: /one } }], backendRefs: [${be(V1)}] }
  - { matches: [{ path: { type: Exact, value: /two } }], backendRefs: [${be(V2)}] }
`),
      ),
    accepted: ['exact-matching'],
    probes: () => [
      [{ path: '/one' }, ok(V1)],
      [{ path: '/two' }, ok(V2)],
      [{ path: '/' }, notFound],
      [{ path: '/one/example' }, notFound],
      [{ path: '/two/' }, notFound],
      [{ path: '/Two' }, notFound],
    ],
  },
  {
    // exact beats prefix, longer prefix beats shorter, whatever the rule order
    name: 'HTTPRoutePathMatchOrder',
    yaml: (a) =>
      docs(
        gateway('order', a()),
        route('path-matching-order', 'order', `  rules:
  - { matches: [{ path: { type: Exact, value: /match } }], backendRefs: [${be(V1)}] }
  - { matches: [{ path: { type: Exact, value: /match/exact } }], backendRefs: [${be(V2)}] }
  - { matches: [{ path: { type: Exact, value: /match/exact/one } }], backendRefs: [${be(V3)}] }
  - { matches: [{ path: { type: PathPrefix, value: /match/ } }], backendRefs: [${be(V3)}] }
  - { matches: [{ path: { type: PathPrefix, value: /match/prefix/ } }], backendRefs: [${be(V1)}] }
  - { matches: [{ path: { type: PathPrefix, value: /match/prefix/one } }], backendRefs: [${be(V2)}] }
`),
      ),
    accepted: ['path-matching-order'],
    probes: () => [
      [{ path: '/match/exact/one' }, ok(V3)],
      [{ path: '/match/exact' }, ok(V2)],
      [{ path: '/match' }, ok(V1)],
      [{ path: '/match/prefix/one/any' }, ok(V2)],
      [{ path: '/match/prefix/any' }, ok(V1)],
      [{ path: '/match/any' }, ok(V3)],
    ],
  },
  {
    // more header matches win; several matches of a rule are ORed
    name: 'HTTPRouteHeaderMatching',
    yaml: (a) =>
      docs(
        gateway('headers', a()),
        route('header-matching', 'headers', `  rules:
  - { matches: [{ headers: [{ name: version, value: one }] }], backendRefs: [${be(V1)}] }
  - { matches: [{ headers: [{ name: version, value: two }] }], backendRefs: [${be(V2)}] }
  - { matches: [{ headers: [{ name: version, value: two }, { name: color, value: orange }] }], backendRefs: [${be(V1)}] }
  - { matches: [{ headers: [{ name: color, value: blue }] }, { headers: [{ name: color, value: green }] }], backendRefs: [${be(V1)}] }
  - { matches: [{ headers: [{ name: color, value: red }] }, { headers: [{ name: color, value: yellow }] }], backendRefs: [${be(V2)}] }
`),
      ),
    accepted: ['header-matching'],
    probes: () => [
      [{ path: '/', headers: { Version: 'one' } }, ok(V1)],
      [{ path: '/', headers: { Version: 'two' } }, ok(V2)],
      [{ path: '/', headers: { Version: 'two', Color: 'orange' } }, ok(V1)],
      [{ path: '/', headers: { Version: 'two', Color: 'blue' } }, ok(V2)],
      [{ path: '/', headers: { Color: 'orange' } }, notFound],
      [{ path: '/', headers: { 'Some-Other-Header': 'one' } }, notFound],
      [{ path: '/', headers: { Color: 'blue' } }, ok(V1)],
      [{ path: '/', headers: { Color: 'green' } }, ok(V1)],
      [{ path: '/', headers: { Color: 'red' } }, ok(V2)],
      [{ path: '/', headers: { Color: 'yellow' } }, ok(V2)],
      [{ path: '/', headers: { Color: 'purple' } }, notFound],
    ],
  },
  {
    // query params: exact and case-sensitive; path > method > headers > query for precedence
    name: 'HTTPRouteQueryParamMatching',
    yaml: (a) =>
      docs(
        gateway('query', a()),
        route('query-param-matching', 'query', `  rules:
  - { matches: [{ queryParams: [{ name: animal, value: whale }] }], backendRefs: [${be(V1)}] }
  - { matches: [{ queryParams: [{ name: animal, value: dolphin }] }], backendRefs: [${be(V2)}] }
  - matches:
    - { queryParams: [{ name: animal, value: dolphin }, { name: color, value: blue }] }
    - { queryParams: [{ name: ANIMAL, value: Whale }] }
    backendRefs: [${be(V3)}]
  - { matches: [{ path: { type: PathPrefix, value: /path1 }, queryParams: [{ name: animal, value: whale }] }], backendRefs: [${be(V1)}] }
  - { matches: [{ headers: [{ name: version, value: one }], queryParams: [{ name: animal, value: whale }] }], backendRefs: [${be(V2)}] }
  - { matches: [{ path: { type: PathPrefix, value: /path2 }, headers: [{ name: version, value: two }], queryParams: [{ name: animal, value: whale }] }], backendRefs: [${be(V3)}] }
  - matches:
    - { path: { type: PathPrefix, value: /path3 }, queryParams: [{ name: animal, value: shark }] }
    - { path: { type: PathPrefix, value: /path4 }, headers: [{ name: version, value: three }], queryParams: [{ name: animal, value: kraken }] }
    backendRefs: [${be(V1)}]
  - { matches: [{ path: { type: PathPrefix, value: /path5 } }], backendRefs: [${be(V1)}] }
  - { matches: [{ queryParams: [{ name: animal, value: hydra }] }], backendRefs: [${be(V2)}] }
  - { matches: [{ headers: [{ name: version, value: four }] }], backendRefs: [${be(V3)}] }
`),
      ),
    accepted: ['query-param-matching'],
    probes: () => [
      [{ path: '/?animal=whale' }, ok(V1)],
      [{ path: '/?animal=dolphin' }, ok(V2)],
      [{ path: '/?animal=dolphin&color=blue' }, ok(V3)],
      [{ path: '/?ANIMAL=Whale' }, ok(V3)],
      [{ path: '/?animal=whale&otherparam=irrelevant' }, ok(V1)],
      [{ path: '/?animal=dolphin&color=yellow' }, ok(V2)],
      [{ path: '/?color=blue' }, notFound],
      [{ path: '/?animal=dog' }, notFound],
      [{ path: '/?animal=whaledolphin' }, notFound],
      [{ path: '/' }, notFound],
      [{ path: '/path1?animal=whale' }, ok(V1)],
      [{ path: '/?animal=whale', headers: { version: 'one' } }, ok(V2)],
      [{ path: '/path2?animal=whale', headers: { version: 'two' } }, ok(V3)],
      [{ path: '/path3?animal=shark' }, ok(V1)],
      [{ path: '/path4?animal=kraken', headers: { version: 'three' } }, ok(V1)],
      [{ path: '/?animal=shark' }, notFound],
      [{ path: '/path4?animal=kraken' }, notFound],
      [{ path: '/path5?animal=hydra' }, ok(V1)],
      [{ path: '/?animal=hydra', headers: { version: 'four' } }, ok(V3)],
    ],
  },
  {
    name: 'HTTPRouteMethodMatching',
    yaml: (a) =>
      docs(
        gateway('methods', a()),
        route('method-matching', 'methods', `  rules:
  - { matches: [{ method: POST }], backendRefs: [${be(V1)}] }
  - { matches: [{ method: GET }], backendRefs: [${be(V2)}] }
  - { matches: [{ path: { type: PathPrefix, value: /path1 }, method: GET }], backendRefs: [${be(V1)}] }
  - { matches: [{ headers: [{ name: version, value: one }], method: PUT }], backendRefs: [${be(V2)}] }
  - { matches: [{ path: { type: PathPrefix, value: /path2 }, headers: [{ name: version, value: two }], method: POST }], backendRefs: [${be(V3)}] }
  - matches:
    - { path: { type: PathPrefix, value: /path3 }, method: PATCH }
    - { path: { type: PathPrefix, value: /path4 }, headers: [{ name: version, value: three }], method: DELETE }
    backendRefs: [${be(V1)}]
  - { matches: [{ path: { type: PathPrefix, value: /path5 } }], backendRefs: [${be(V1)}] }
  - { matches: [{ method: PATCH }], backendRefs: [${be(V2)}] }
  - { matches: [{ headers: [{ name: version, value: four }] }], backendRefs: [${be(V3)}] }
`),
      ),
    accepted: ['method-matching'],
    probes: () => [
      [{ method: 'POST', path: '/' }, ok(V1, { request: { method: 'POST' } })],
      [{ method: 'GET', path: '/' }, ok(V2)],
      [{ method: 'HEAD', path: '/' }, notFound],
      [{ method: 'GET', path: '/path1' }, ok(V1)],
      [{ method: 'PUT', path: '/', headers: { version: 'one' } }, ok(V2, { request: { method: 'PUT', headers: { version: 'one' } } })],
      [{ method: 'POST', path: '/path2', headers: { version: 'two' } }, ok(V3, { request: { method: 'POST', headers: { version: 'two' } } })],
      [{ method: 'PATCH', path: '/path3' }, ok(V1, { request: { method: 'PATCH' } })],
      [{ method: 'DELETE', path: '/path4', headers: { version: 'three' } }, ok(V1, { request: { method: 'DELETE', headers: { version: 'three' } } })],
      [{ method: 'PUT', path: '/' }, notFound],
      [{ method: 'DELETE', path: '/path4' }, notFound],
      [{ method: 'PATCH', path: '/path5' }, ok(V1, { request: { method: 'PATCH' } })],
      [{ method: 'PATCH', path: '/', headers: { version: 'four' } }, ok(V2, { request: { method: 'PATCH', headers: { version: 'four' } } })],
    ],
  },
  {
    // listener hostnames x route hostnames; a request's port does not take part in host matching
    name: 'HTTPRouteHostnameIntersection',
    yaml: (a) =>
      docs(
        gateway('httproute-hostname-intersection', a(), [['listener-1', 80, 'very.specific.com'], ['listener-2', 80, '*.wildcard.io'], ['listener-3', 80, '*.anotherwildcard.io']]),
        gateway('httproute-hostname-intersection-all', a(2)),
        route('specific-host-matches-listener-specific-host', 'httproute-hostname-intersection', `  hostnames: [non.matching.com, "*.nonmatchingwildcard.io", very.specific.com]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /s1 } }], backendRefs: [${be(V1)}] }]
`),
        route('specific-host-matches-listener-wildcard-host', 'httproute-hostname-intersection', `  hostnames: [non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /s2 } }], backendRefs: [${be(V2)}] }]
`),
        route('wildcard-host-matches-listener-specific-host', 'httproute-hostname-intersection', `  hostnames: [non.matching.com, "*.specific.com"]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /s3 } }], backendRefs: [${be(V3)}] }]
`),
        route('wildcard-host-matches-listener-wildcard-host', 'httproute-hostname-intersection', `  hostnames: ["*.anotherwildcard.io"]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /s4 } }], backendRefs: [${be(V1)}] }]
`),
        route('no-intersecting-hosts', 'httproute-hostname-intersection', `  hostnames: [specific.but.wrong.com, wildcard.io]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /s5 } }], backendRefs: [${be(V2)}] }]
`),
        route('httproute-hostname-intersection-all', 'httproute-hostname-intersection-all', `  hostnames: [first.com, sub.first.com, second.com, sub.second.com]
  rules: [{ backendRefs: [${be(V2)}] }]
`),
      ),
    accepted: ['specific-host-matches-listener-specific-host', 'specific-host-matches-listener-wildcard-host', 'wildcard-host-matches-listener-specific-host', 'wildcard-host-matches-listener-wildcard-host', 'httproute-hostname-intersection-all'],
    probes: (a) => [
      [{ host: 'very.specific.com', path: '/s1' }, ok(V1)],
      [{ host: 'very.specific.com:1234', path: '/s1' }, ok(V1)],
      [{ host: 'non.matching.com', path: '/s1' }, notFound],
      [{ host: 'foo.nonmatchingwildcard.io', path: '/s1' }, notFound],
      [{ host: 'foo.wildcard.io', path: '/s1' }, notFound],
      [{ host: 'very.specific.com', path: '/non-matching-prefix' }, notFound],
      [{ host: 'foo.wildcard.io', path: '/s2' }, ok(V2)],
      [{ host: 'bar.wildcard.io', path: '/s2' }, ok(V2)],
      [{ host: 'foo.bar.wildcard.io', path: '/s2' }, ok(V2)],
      [{ host: 'non.matching.com', path: '/s2' }, notFound],
      [{ host: 'wildcard.io', path: '/s2' }, notFound],
      [{ host: 'very.specific.com', path: '/s2' }, notFound],
      [{ host: 'foo.wildcard.io', path: '/non-matching-prefix' }, notFound],
      [{ host: 'very.specific.com', path: '/s3' }, ok(V3)],
      [{ host: 'non.matching.com', path: '/s3' }, notFound],
      [{ host: 'foo.specific.com', path: '/s3' }, notFound],
      [{ host: 'foo.wildcard.io', path: '/s3' }, notFound],
      [{ host: 'foo.anotherwildcard.io', path: '/s4' }, ok(V1)],
      [{ host: 'bar.anotherwildcard.io', path: '/s4' }, ok(V1)],
      [{ host: 'foo.bar.anotherwildcard.io', path: '/s4' }, ok(V1)],
      [{ host: 'anotherwildcard.io', path: '/s4' }, notFound],
      [{ host: 'foo.wildcard.io', path: '/s4' }, notFound],
      [{ host: 'very.specific.com', path: '/s4' }, notFound],
      [{ host: 'specific.but.wrong.com', path: '/s5' }, notFound],
      [{ host: 'wildcard.io', path: '/s5' }, notFound],
      [{ gw: a(2), host: 'first.com', path: '/' }, ok(V2)],
      [{ gw: a(2), host: 'sub.first.com', path: '/' }, ok(V2)],
      [{ gw: a(2), host: 'second.com', path: '/' }, ok(V2)],
      [{ gw: a(2), host: 'sub.second.com', path: '/' }, ok(V2)],
      [{ gw: a(2), host: 'third.com', path: '/' }, notFound],
      [{ gw: a(2), host: 'sub.third.com', path: '/' }, notFound],
    ],
  },
  {
    // routes attach to listeners by sectionName; the most specific listener hostname wins
    name: 'HTTPRouteListenerHostnameMatching',
    yaml: (a) =>
      docs(
        gateway('httproute-listener-hostname-matching', a(), [['listener-1', 80, 'bar.com'], ['listener-2', 80, 'foo.bar.com'], ['listener-3', 80, '*.bar.com'], ['listener-4', 80, '*.foo.com']]),
        `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v1, namespace: ${NS} }
spec:
  parentRefs: [{ name: httproute-listener-hostname-matching, sectionName: listener-1 }]
  rules: [{ backendRefs: [${be(V1)}] }]
`,
        `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v2, namespace: ${NS} }
spec:
  parentRefs: [{ name: httproute-listener-hostname-matching, sectionName: listener-2 }]
  rules: [{ backendRefs: [${be(V2)}] }]
`,
        `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v3, namespace: ${NS} }
spec:
  parentRefs: [{ name: httproute-listener-hostname-matching, sectionName: listener-3 }, { name: httproute-listener-hostname-matching, sectionName: listener-4 }]
  rules: [{ backendRefs: [${be(V3)}] }]
`,
      ),
    accepted: ['backend-v1', 'backend-v2', 'backend-v3'],
    probes: () => [
      [{ host: 'bar.com', path: '/' }, ok(V1)],
      [{ host: 'foo.bar.com', path: '/' }, ok(V2)],
      [{ host: 'baz.bar.com', path: '/' }, ok(V3)],
      [{ host: 'boo.bar.com', path: '/' }, ok(V3)],
      [{ host: 'multiple.prefixes.bar.com', path: '/' }, ok(V3)],
      [{ host: 'multiple.prefixes.foo.com', path: '/' }, ok(V3)],
      [{ host: 'foo.com', path: '/' }, notFound],
      [{ host: 'no.matching.host', path: '/' }, notFound],
    ],
  },
  {
    name: 'HTTPRouteRequestHeaderModifier',
    yaml: (a) =>
      docs(
        gateway('reqhdr', a()),
        route('request-header-modifier', 'reqhdr', `  rules:
  - matches: [{ path: { type: PathPrefix, value: /set } }]
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /add } }]
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { add: [{ name: X-Header-Add, value: add-appends-values }] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /remove } }]
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { remove: [X-Header-Remove] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /multiple } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
        add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }, { name: X-Header-Add-3, value: header-add-3 }]
        remove: [X-Header-Remove-1, X-Header-Remove-2]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /case-insensitivity } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: header-set }], add: [{ name: X-Header-Add, value: header-add }], remove: [X-Header-Remove] }
    backendRefs: [${be(V1)}]
`),
      ),
    accepted: ['request-header-modifier'],
    probes: () => [
      [{ path: '/set', headers: { 'Some-Other-Header': 'val' } }, ok(V1, { request: { headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } })],
      [{ path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' } }, ok(V1, { request: { headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } })],
      [{ path: '/add', headers: { 'Some-Other-Header': 'val' } }, ok(V1, { request: { headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' } } })],
      [{ path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' } }, ok(V1, { request: { headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' } } })],
      [{ path: '/remove', headers: { 'X-Header-Remove': 'val' } }, ok(V1, { request: { absentHeaders: ['X-Header-Remove'] } })],
      [
        { path: '/multiple', headers: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' } },
        ok(V1, {
          request: {
            headers: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
            absentHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'],
          },
        }),
      ],
      [
        { path: '/case-insensitivity', headers: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' } },
        ok(V1, { request: { headers: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'Another-Header': 'another-header-val' }, absentHeaders: ['x-header-remove', 'X-Header-Remove'] } }),
      ],
    ],
  },
  {
    name: 'HTTPRouteResponseHeaderModifier',
    yaml: (a) =>
      docs(
        gateway('reshdr', a()),
        route('response-header-modifier', 'reshdr', `  rules:
  - matches: [{ path: { type: PathPrefix, value: /set } }]
    filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /add } }]
    filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { add: [{ name: X-Header-Add, value: add-appends-values }] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /remove } }]
    filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { remove: [X-Header-Remove] } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /multiple } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
        add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }, { name: X-Header-Add-3, value: header-add-3 }]
        remove: [X-Header-Remove-1, X-Header-Remove-2]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /case-insensitivity } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set, value: header-set }]
        add: [{ name: X-Header-Add, value: header-add }, { name: x-lowercase-add, value: lowercase-add }, { name: x-Mixedcase-ADD-1, value: mixedcase-add-1 }, { name: X-mixeDcase-add-2, value: mixedcase-add-2 }, { name: X-UPPERCASE-ADD, value: uppercase-add }]
        remove: [X-Header-Remove]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /response-and-request-header-modifiers } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
        add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }]
        remove: [X-Header-Remove-1, X-Header-Remove-2]
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
    backendRefs: [${be(V1)}]
`),
      ),
    accepted: ['response-header-modifier'],
    probes: () => [
      [{ path: '/set', backendSetResponseHeaders: { 'Some-Other-Header': 'val' } }, ok(V1, { response: { headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } })],
      [{ path: '/set', backendSetResponseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' } }, ok(V1, { response: { headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } })],
      [{ path: '/add', backendSetResponseHeaders: { 'Some-Other-Header': 'val' } }, ok(V1, { response: { headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' } } })],
      [{ path: '/add', backendSetResponseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' } }, ok(V1, { response: { headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' } } })],
      [{ path: '/remove', backendSetResponseHeaders: { 'X-Header-Remove': 'val' } }, ok(V1, { response: { absentHeaders: ['X-Header-Remove'] } })],
      [
        { path: '/multiple', backendSetResponseHeaders: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val', 'X-Header-Remove-1': 'val' } },
        ok(V1, {
          response: {
            headers: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
            absentHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'],
          },
        }),
      ],
      [
        { path: '/case-insensitivity', backendSetResponseHeaders: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' } },
        ok(V1, {
          response: {
            headers: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'X-Lowercase-Add': 'lowercase-add', 'X-Mixedcase-Add-1': 'mixedcase-add-1', 'X-Mixedcase-Add-2': 'mixedcase-add-2', 'X-Uppercase-Add': 'uppercase-add', 'Another-Header': 'another-header-val' },
            absentHeaders: ['x-header-remove', 'X-Header-Remove'],
          },
        }),
      ],
      [
        {
          path: '/response-and-request-header-modifiers',
          headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Echo': 'echo' },
          backendSetResponseHeaders: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val', 'X-Header-Remove-1': 'remove-val-1', 'X-Header-Echo': 'echo' },
        },
        ok(V1, {
          request: { headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Set': 'set-overwrites-values', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Echo': 'echo' }, absentHeaders: ['X-Header-Remove'] },
          response: {
            headers: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'Another-Header': 'another-header-val', 'X-Header-Echo': 'echo' },
            absentHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'],
          },
        }),
      ],
    ],
  },
  {
    name: 'HTTPRouteRedirectHostAndStatus',
    yaml: (a) =>
      docs(
        gateway('rd-host', a()),
        route('redirect-host-and-status', 'rd-host', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /hostname-redirect } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /host-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 301, hostname: example.org } }] }
`),
      ),
    accepted: ['redirect-host-and-status'],
    probes: () => [
      [{ path: '/hostname-redirect' }, { status: 302, redirect: { host: 'example.org' } }],
      [{ path: '/host-and-status' }, { status: 301, redirect: { host: 'example.org' } }],
    ],
  },
  {
    name: 'HTTPRouteRedirectPath',
    yaml: (a) =>
      docs(
        gateway('rd-path', a()),
        route('redirect-path', 'rd-path', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /original-prefix } }], filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }] }
  - { matches: [{ path: { type: PathPrefix, value: /full } }], filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /full-path-replacement } } }] }
  - { matches: [{ path: { type: PathPrefix, value: /path-and-host } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }] }
  - { matches: [{ path: { type: PathPrefix, value: /path-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 301, path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }] }
  - { matches: [{ path: { type: PathPrefix, value: /full-path-and-host } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplaceFullPath, replaceFullPath: /replacement-full } } }] }
  - { matches: [{ path: { type: PathPrefix, value: /full-path-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 301, path: { type: ReplaceFullPath, replaceFullPath: /replacement-full } } }] }
`),
      ),
    accepted: ['redirect-path'],
    probes: () => [
      [{ path: '/original-prefix/lemon' }, { status: 302, redirect: { path: '/replacement-prefix/lemon' } }],
      [{ path: '/full/path/original' }, { status: 302, redirect: { path: '/full-path-replacement' } }],
      [{ path: '/path-and-host' }, { status: 302, redirect: { host: 'example.org', path: '/replacement-prefix' } }],
      [{ path: '/path-and-status' }, { status: 301, redirect: { path: '/replacement-prefix' } }],
      [{ path: '/full-path-and-host' }, { status: 302, redirect: { host: 'example.org', path: '/replacement-full' } }],
      [{ path: '/full-path-and-status' }, { status: 301, redirect: { path: '/replacement-full' } }],
    ],
  },
  {
    name: 'HTTPRouteRedirectPort',
    yaml: (a) =>
      docs(
        gateway('rd-port', a()),
        route('redirect-port', 'rd-port', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /port } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 8083 } }] }
  - { matches: [{ path: { type: PathPrefix, value: /port-and-host } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, port: 8083 } }] }
  - { matches: [{ path: { type: PathPrefix, value: /port-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 8083, statusCode: 301 } }] }
  - { matches: [{ path: { type: PathPrefix, value: /port-and-host-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 8083, hostname: example.org, statusCode: 302 } }] }
`),
      ),
    accepted: ['redirect-port'],
    probes: () => [
      [{ path: '/port' }, { status: 302, redirect: { port: '8083' } }],
      [{ path: '/port-and-host' }, { status: 302, redirect: { host: 'example.org', port: '8083' } }],
      [{ path: '/port-and-status' }, { status: 301, redirect: { port: '8083' } }],
      [{ path: '/port-and-host-and-status' }, { status: 302, redirect: { host: 'example.org', port: '8083' } }],
    ],
  },
  {
    name: 'HTTPRouteRedirectScheme',
    yaml: (a) =>
      docs(
        gateway('rd-scheme', a()),
        route('redirect-scheme', 'rd-scheme', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /scheme } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-and-host } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, scheme: https } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 301 } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-and-host-and-status } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 302, hostname: example.org } }] }
`),
      ),
    accepted: ['redirect-scheme'],
    probes: () => [
      [{ path: '/scheme' }, { status: 302, redirect: { scheme: 'https' } }],
      [{ path: '/scheme-and-host' }, { status: 302, redirect: { host: 'example.org', scheme: 'https' } }],
      [{ path: '/scheme-and-status' }, { status: 301, redirect: { scheme: 'https' } }],
      [{ path: '/scheme-and-host-and-status' }, { status: 302, redirect: { scheme: 'https', host: 'example.org' } }],
    ],
  },
  {
    // the listener's port stays when neither scheme nor port is given; a scheme's default port is left out
    name: 'HTTPRouteRedirectPortAndScheme',
    yaml: (a) => {
      const rules80 = `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-nil } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-80 } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 80, hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-8080 } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 8080, hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-nil } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-443 } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: 443, hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-8443 } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: 8443, hostname: example.org } }] }
`;
      const rules8080 = `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-nil } }], filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-80 } }], filters: [{ type: RequestRedirect, requestRedirect: { port: 80, hostname: example.org } }] }
  - { matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-nil } }], filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, hostname: example.org } }] }
`;
      return docs(gateway('rd-ps-80', a()), gateway('rd-ps-8080', a(2), [['http', 8080]]), route('http-route-for-listener-on-port-80', 'rd-ps-80', rules80), route('http-route-for-listener-on-port-8080', 'rd-ps-8080', rules8080));
    },
    accepted: ['http-route-for-listener-on-port-80', 'http-route-for-listener-on-port-8080'],
    probes: (a) => [
      [{ path: '/scheme-nil-and-port-nil' }, { status: 302, redirect: { scheme: 'http', host: 'example.org' } }],
      [{ path: '/scheme-nil-and-port-80' }, { status: 302, redirect: { scheme: 'http', host: 'example.org' } }],
      [{ path: '/scheme-nil-and-port-8080' }, { status: 302, redirect: { scheme: 'http', host: 'example.org', port: '8080' } }],
      [{ path: '/scheme-https-and-port-nil' }, { status: 302, redirect: { scheme: 'https', host: 'example.org' } }],
      [{ path: '/scheme-https-and-port-443' }, { status: 302, redirect: { scheme: 'https', host: 'example.org' } }],
      [{ path: '/scheme-https-and-port-8443' }, { status: 302, redirect: { scheme: 'https', host: 'example.org', port: '8443' } }],
      [{ gw: `${a(2)}:8080`, path: '/scheme-nil-and-port-nil' }, { status: 302, redirect: { scheme: 'http', host: 'example.org', port: '8080' } }],
      [{ gw: `${a(2)}:8080`, path: '/scheme-nil-and-port-80' }, { status: 302, redirect: { scheme: 'http', host: 'example.org' } }],
      [{ gw: `${a(2)}:8080`, path: '/scheme-https-and-port-nil' }, { status: 302, redirect: { scheme: 'https', host: 'example.org' } }],
    ],
  },
  {
    name: 'HTTPRouteRewriteHost',
    yaml: (a) =>
      docs(
        gateway('rw-host', a()),
        route('rewrite-host', 'rw-host', `  hostnames: [rewrite.example]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /one } }]
    filters: [{ type: URLRewrite, urlRewrite: { hostname: one.example.org } }]
    backendRefs: [${be(V1)}]
  - filters: [{ type: URLRewrite, urlRewrite: { hostname: example.org } }]
    backendRefs: [${be(V2)}]
  - matches: [{ path: { type: PathPrefix, value: /rewrite-host-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { hostname: test.example.org } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }], add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }], remove: [X-Header-Remove] }
    backendRefs: [${be(V2)}]
`),
      ),
    accepted: ['rewrite-host'],
    probes: () => [
      [{ host: 'rewrite.example', path: '/one' }, ok(V1, { request: { host: 'one.example.org', path: '/one' } })],
      [{ host: 'rewrite.example', path: '/two' }, ok(V2, { request: { host: 'example.org', path: '/two' } })],
      [
        { host: 'rewrite.example', path: '/rewrite-host-and-modify-headers', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' } },
        ok(V2, { request: { host: 'test.example.org', path: '/rewrite-host-and-modify-headers', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Set': 'set-overwrites-values', 'X-Header-Add-Append': 'append-val-1,header-val-2' }, absentHeaders: ['X-Header-Remove'] } }),
      ],
    ],
  },
  {
    name: 'HTTPRouteRewritePath',
    yaml: (a) =>
      docs(
        gateway('rw-path', a()),
        route('rewrite-path', 'rw-path', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /prefix/one } }], filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /one } } }], backendRefs: [${be(V1)}] }
  - { matches: [{ path: { type: PathPrefix, value: /strip-prefix } }], filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }], backendRefs: [${be(V1)}] }
  - { matches: [{ path: { type: PathPrefix, value: /full/one } }], filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /one } } }], backendRefs: [${be(V1)}] }
  - matches: [{ path: { type: PathPrefix, value: /full/rewrite-path-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /test } } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }], add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }], remove: [X-Header-Remove] }
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /prefix } } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }], add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }], remove: [X-Header-Remove] }
    backendRefs: [${be(V1)}]
`),
      ),
    accepted: ['rewrite-path'],
    probes: () => {
      const mods = { request: { headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Set': 'set-overwrites-values', 'X-Header-Add-Append': 'append-val-1,header-val-2' }, absentHeaders: ['X-Header-Remove'] } };
      const sent = { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' };
      return [
        [{ path: '/prefix/one/two' }, ok(V1, { request: { path: '/one/two' } })],
        [{ path: '/strip-prefix/three' }, ok(V1, { request: { path: '/three' } })],
        [{ path: '/strip-prefix' }, ok(V1, { request: { path: '/' } })],
        [{ path: '/full/one/two' }, ok(V1, { request: { path: '/one' } })],
        [{ path: '/full/rewrite-path-and-modify-headers/test', headers: sent }, ok(V1, { request: { ...mods.request, path: '/test' } })],
        [{ path: '/prefix/rewrite-path-and-modify-headers/one', headers: sent }, ok(V1, { request: { ...mods.request, path: '/prefix/one' } })],
      ];
    },
  },
  {
    name: 'HTTPRouteTimeoutRequest',
    yaml: (a) =>
      docs(
        gateway('timeout-req', a()),
        route('request-timeout', 'timeout-req', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /request-timeout } }], backendRefs: [${be(V1)}], timeouts: { request: 500ms } }
  - { matches: [{ path: { type: PathPrefix, value: /disable-request-timeout } }], backendRefs: [${be(V1)}], timeouts: { request: "0s" } }
`),
      ),
    accepted: ['request-timeout'],
    probes: () => [
      [{ path: '/request-timeout' }, ok(V1)],
      [{ path: '/request-timeout?delay=1s' }, { status: 504 }],
      [{ path: '/disable-request-timeout?delay=1s' }, ok(V1)],
    ],
  },
  {
    name: 'HTTPRouteTimeoutBackendRequest',
    yaml: (a) =>
      docs(
        gateway('timeout-be', a()),
        route('backend-request-timeout', 'timeout-be', `  rules:
  - { matches: [{ path: { type: PathPrefix, value: /backend-timeout } }], backendRefs: [${be(V1)}], timeouts: { backendRequest: 500ms } }
  - { matches: [{ path: { type: PathPrefix, value: /disable-backend-timeout } }], backendRefs: [${be(V1)}], timeouts: { backendRequest: "0s" } }
`),
      ),
    accepted: ['backend-request-timeout'],
    probes: () => [
      [{ path: '/backend-timeout' }, ok(V1)],
      [{ path: '/backend-timeout?delay=1s' }, { status: 504 }],
      [{ path: '/disable-backend-timeout?delay=1s' }, ok(V1)],
    ],
  },
  {
    // no ReferenceGrant: ResolvedRefs False RefNotPermitted, and the backend's share gets 500
    name: 'HTTPRouteInvalidCrossNamespaceBackendRef',
    yaml: (a) => docs(gateway('invalid-xns', a()), route('invalid-cross-namespace-backend-ref', 'invalid-xns', `  rules: [{ backendRefs: [{ name: web-backend, namespace: ${WEB_NS}, port: 8080 }] }]\n`)),
    probes: () => [[{ path: '/' }, { status: 500 }]],
  },
  {
    name: 'HTTPRouteInvalidBackendRefUnknownKind',
    yaml: (a) => docs(gateway('invalid-kind', a()), route('invalid-backend-ref-unknown-kind', 'invalid-kind', `  rules: [{ backendRefs: [{ group: unknownkind.example.com, kind: NonExistent, name: ${V1}, port: 8080 }] }]\n`)),
    probes: () => [[{ path: '/v2' }, { status: 500 }]],
  },
  {
    // a TLS listener that allows only TLSRoutes: the HTTPRoute is not allowed, nothing attaches
    name: 'HTTPRouteDisallowedKind',
    yaml: (a) =>
      docs(
        `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: tlsroutes-only, namespace: ${NS} }
spec:
  gatewayClassName: weft
  addresses: [{ type: IPAddress, value: ${a()} }]
  listeners:
  - { name: tls, port: 443, protocol: TLS, tls: { mode: Passthrough }, allowedRoutes: { namespaces: { from: Same }, kinds: [{ kind: TLSRoute }] } }
`,
        route('disallowed-kind', 'tlsroutes-only', `  rules: [{ backendRefs: [${be(V1)}] }]\n`),
      ),
  },
];

const MIRROR_CASE = 'HTTPRouteRequestMirror';
const WEIGHT_CASE = 'HTTPRouteWeight';
const GRANT_CASE = 'HTTPRouteReferenceGrant';
const INDEX = new Map<string, number>([...CASES.map((c, i) => [c.name, i + 1] as const), [MIRROR_CASE, 100], [WEIGHT_CASE, 101], [GRANT_CASE, 102]]);
const at = (name: string) => (j = 1) => addr(INDEX.get(name)!, j);

const mirrorYaml = docs(
  gateway('mirror', at(MIRROR_CASE)()),
  route('request-mirror', 'mirror', `  rules:
  - matches: [{ path: { type: PathPrefix, value: /mirror } }]
    filters: [{ type: RequestMirror, requestMirror: { backendRef: ${be(V2)} } }]
    backendRefs: [${be(V1)}]
  - matches: [{ path: { type: PathPrefix, value: /mirror-and-modify-headers } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }], add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }], remove: [X-Header-Remove] }
    - { type: RequestMirror, requestMirror: { backendRef: ${be(V2)} } }
    backendRefs: [${be(V1)}]
`),
);

const weightYaml = docs(
  gateway('weight', at(WEIGHT_CASE)()),
  route('weighted-backends', 'weight', `  rules: [{ backendRefs: [${be(V1, ', weight: 70')}, ${be(V2, ', weight: 30')}, ${be(V3, ', weight: 0')}] }]\n`),
);

// The grant case's route lives in a namespace of its own: a grant for routes of the infra namespace
// would also permit HTTPRouteInvalidCrossNamespaceBackendRef's reference, which upstream runs apart.
const GRANT_NS = 'gateway-conformance-grant';
const grantRouteYaml = docs(
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${GRANT_NS} }\n`,
  gateway('grant', at(GRANT_CASE)(), undefined, GRANT_NS),
  route('reference-grant', 'grant', `  rules: [{ backendRefs: [{ name: web-backend, namespace: ${WEB_NS}, port: 8080 }] }]\n`, GRANT_NS),
);
const grantYaml = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: reference-grant, namespace: ${WEB_NS} }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${GRANT_NS} }]
  to: [{ group: "", kind: Service, name: web-backend }]
`;

let h: Harness;

const SPECS: BackendSpec[] = [
  { name: V1, namespace: NS, address: addr(200, 1) },
  { name: V2, namespace: NS, address: addr(200, 2) },
  { name: V3, namespace: NS, address: addr(200, 3) },
  { name: 'web-backend', namespace: WEB_NS, address: addr(200, 4) },
];

beforeAll(async () => {
  h = await startHarness({
    specs: SPECS,
    manifests: () => docs(...CASES.map((c) => c.yaml(at(c.name))), mirrorYaml, weightYaml, grantRouteYaml),
    files: { 'reference-grant.yaml': grantYaml },
    token: ['--gateway', `${NS}/same-namespace`],
  });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

function cond(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

async function routeParents(name: string, ns = NS) {
  const st = await h.status();
  return st.gatewayApi.routes.find((r) => r.kind === 'HTTPRoute' && r.namespace === ns && r.name === name)?.parents ?? [];
}

async function expectAccepted(names: readonly string[], ns = NS): Promise<void> {
  for (const name of names) {
    const parents = await routeParents(name, ns);
    expect(parents.length, `${name} has parents`).toBeGreaterThan(0);
    for (const p of parents) {
      expect(cond(p.conditions, 'Accepted'), `${name} Accepted`).toMatchObject({ status: 'True' });
      expect(cond(p.conditions, 'ResolvedRefs'), `${name} ResolvedRefs`).toMatchObject({ status: 'True' });
    }
  }
}

async function runProbes(c: Case): Promise<void> {
  const a = at(c.name);
  for (const [req, exp] of c.probes?.(a) ?? []) {
    const r: Req = { ...req, gw: req.gw ?? a() };
    await expectEventually(r, exp, { budgetMs: BUDGET });
  }
}

describe('Gateway API HTTPRoute conformance (weft gateway)', () => {
  for (const c of CASES.filter((x) => x.probes)) {
    it(c.name, async () => {
      if (c.accepted) await expectAccepted(c.accepted);
      await runProbes(c);
    });
  }

  it('HTTPRouteHostnameIntersection: status (NoMatchingListenerHostname, attachedRoutes per listener)', async () => {
    const [p] = await routeParents('no-intersecting-hosts');
    expect(cond(p?.conditions, 'Accepted')).toMatchObject({ status: 'False', reason: 'NoMatchingListenerHostname' });
    const st = await h.status();
    const gw = st.gatewayApi.gateways.find((g) => g.name === 'httproute-hostname-intersection')!;
    expect(Object.fromEntries(gw.listeners.map((l) => [l.name, l.attachedRoutes]))).toEqual({ 'listener-1': 2, 'listener-2': 1, 'listener-3': 1 });
    for (const l of gw.listeners) {
      expect(cond(l.conditions, 'Accepted')?.status).toBe('True');
      expect(cond(l.conditions, 'ResolvedRefs')?.status).toBe('True');
    }
  });

  it('HTTPRouteInvalidCrossNamespaceBackendRef: ResolvedRefs False, RefNotPermitted', async () => {
    const [p] = await routeParents('invalid-cross-namespace-backend-ref');
    expect(cond(p?.conditions, 'Accepted')).toMatchObject({ status: 'True' });
    expect(cond(p?.conditions, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });

  it('HTTPRouteInvalidBackendRefUnknownKind: ResolvedRefs False, InvalidKind', async () => {
    const [p] = await routeParents('invalid-backend-ref-unknown-kind');
    expect(cond(p?.conditions, 'Accepted')).toMatchObject({ status: 'True' });
    expect(cond(p?.conditions, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'InvalidKind' });
  });

  it('HTTPRouteDisallowedKind: not accepted (NotAllowedByListeners), no routes attached', async () => {
    const parents = await routeParents('disallowed-kind');
    expect(parents.length).toBeGreaterThan(0);
    for (const p of parents) {
      expect(cond(p.conditions, 'Accepted')).toMatchObject({ status: 'False', reason: 'NotAllowedByListeners' });
      expect(cond(p.conditions, 'ResolvedRefs')).toMatchObject({ status: 'True' });
    }
    const gw = (await h.status()).gatewayApi.gateways.find((g) => g.name === 'tlsroutes-only');
    expect(gw?.listeners.reduce((n, l) => n + l.attachedRoutes, 0)).toBe(0);
  });

  it(MIRROR_CASE, async () => {
    await expectAccepted(['request-mirror']);
    const a = at(MIRROR_CASE)();
    const v2 = h.backends.get(V2)!.echo;
    const cases: [Req, Expect][] = [
      [{ gw: a, path: '/mirror' }, ok(V1)],
      [
        { gw: a, path: '/mirror-and-modify-headers', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' } },
        ok(V1, { request: { headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Set': 'set-overwrites-values', 'X-Header-Add-Append': 'append-val-1,header-val-2' }, absentHeaders: ['X-Header-Remove'] } }),
      ],
    ];
    for (const [r, exp] of cases) {
      const before = v2.lines.filter((l) => l.startsWith(`Echoing back request made to ${r.path} to client`)).length;
      await expectEventually(r, exp, { budgetMs: BUDGET });
      // the mirror backend logs the same request (upstream reads its pod log)
      await poll(() => (v2.lines.filter((l) => l.startsWith(`Echoing back request made to ${r.path} to client`)).length > before ? true : undefined), 10_000, `a mirrored ${r.path} on ${V2}`);
    }
  });

  it(`${WEIGHT_CASE}: 1,000 requests split 70/30/0 within 5 points`, async () => {
    await expectAccepted(['weighted-backends']);
    const a = at(WEIGHT_CASE)();
    await expectEventually({ gw: a, path: '/' }, ok(''), { budgetMs: BUDGET });
    const counts = new Map<string, number>();
    const total = 1000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const r = await roundTrip({ gw: a, path: '/' });
        expect(r.status).toBe(200);
        const b = backendOf(r.json!.pod);
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const share = (b: string) => (counts.get(b) ?? 0) / total;
    expect(Math.abs(share(V1) - 0.7), JSON.stringify([...counts])).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share(V2) - 0.3), JSON.stringify([...counts])).toBeLessThanOrEqual(0.05);
    expect(counts.get(V3) ?? 0).toBe(0);
  });

  it(GRANT_CASE, async () => {
    const a = at(GRANT_CASE)();
    await poll(async () => {
      const [p] = await routeParents('reference-grant', GRANT_NS);
      return cond(p?.conditions, 'ResolvedRefs')?.status === 'True' ? true : undefined;
    }, 15_000, 'reference-grant ResolvedRefs True');
    await expectAccepted(['reference-grant'], GRANT_NS);
    await expectEventually({ gw: a, path: '/' }, { backend: 'web-backend', namespace: WEB_NS });
    // the grant goes away: the reference is not permitted any more, requests get 500
    unlinkSync(join(h.dir, 'config', 'reference-grant.yaml'));
    await expectEventually({ gw: a, path: '/' }, { status: 500 }, { budgetMs: BUDGET });
    const [p] = await routeParents('reference-grant', GRANT_NS);
    expect(cond(p?.conditions, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });
});
