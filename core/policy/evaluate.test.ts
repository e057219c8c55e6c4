import { describe, expect, it } from 'vitest';
import { istio } from '../xds/pb.ts';
import type { AuthorizationProto, MatchProto } from '../xds/pb.ts';
import { compileAuthorization } from './compile.ts';
import { authorize } from './evaluate.ts';
import type { AuthzCode, AuthzRequest, CompiledPolicy } from './model.ts';

const { ALLOW, DENY } = istio.security.Action;
const { NAMESPACE, WORKLOAD_SELECTOR } = istio.security.Scope;

/** A policy of one rule whose clauses each hold the given matches. */
const pol = (name: string, action: istio.security.Action, ...clauses: MatchProto[][]): AuthorizationProto => ({
  name,
  namespace: 'ns',
  scope: NAMESPACE,
  action,
  rules: [{ clauses: clauses.map((matches) => ({ matches })) }],
});
const ip = (a: number[], length: number) => ({ address: new Uint8Array(a), length });
const compile = (p: AuthorizationProto): CompiledPolicy => {
  const r = compileAuthorization(p);
  if (!r.ok) throw new Error(r.message);
  return r.policy;
};

const ALICE = 'spiffe://cluster.local/ns/a/sa/alice';
const BOB = 'spiffe://cluster.local/ns/b/sa/bob';
const mtls = (peerIdentity: string, over: Partial<AuthzRequest> = {}): AuthzRequest => ({ sourceIp: '10.0.0.1', destinationIp: '10.0.1.1', destinationPort: 8080, mtls: true, peerIdentity, ...over });
const plain = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({ sourceIp: '10.0.0.1', destinationIp: '10.0.1.1', destinationPort: 8080, mtls: false, ...over });

interface Case {
  name: string;
  policies: AuthorizationProto[];
  missing?: string[];
  req: AuthzRequest;
  allowed: boolean;
  code: AuthzCode;
  policy?: string;
  reason?: RegExp;
  audit?: string[];
}

const cases: Case[] = [
  { name: 'no policy allows', policies: [], req: plain(), allowed: true, code: 'no-policy' },
  { name: 'ALLOW exact principal', policies: [pol('p', ALLOW, [{ principals: [{ exact: 'cluster.local/ns/a/sa/alice' }] }])], req: mtls(ALICE), allowed: true, code: 'allow-match', policy: 'ns/p' },
  { name: 'ALLOW other principal denies', policies: [pol('p', ALLOW, [{ principals: [{ exact: 'cluster.local/ns/a/sa/alice' }] }])], req: mtls(BOB), allowed: false, code: 'no-allow-match', reason: /no ALLOW policy matched spiffe:\/\/cluster.local\/ns\/b\/sa\/bob .*ns\/p/ },
  { name: 'principal prefix (x*)', policies: [pol('p', ALLOW, [{ principals: [{ prefix: 'cluster.local/ns/a/' }] }])], req: mtls(ALICE), allowed: true, code: 'allow-match' },
  { name: 'principal suffix (*x)', policies: [pol('p', ALLOW, [{ principals: [{ suffix: '/sa/bob' }] }])], req: mtls(BOB), allowed: true, code: 'allow-match' },
  { name: 'principal * needs an identity', policies: [pol('p', ALLOW, [{ principals: [{ presence: {} }] }])], req: plain(), allowed: false, code: 'no-allow-match', reason: /without identity \(plaintext\)/ },
  { name: 'identity ignored without mtls', policies: [pol('p', ALLOW, [{ principals: [{ presence: {} }] }])], req: { ...mtls(ALICE), mtls: false }, allowed: false, code: 'no-allow-match' },
  { name: 'notPrincipals', policies: [pol('p', DENY, [{ notPrincipals: [{ exact: 'cluster.local/ns/a/sa/alice' }] }])], req: mtls(BOB), allowed: false, code: 'deny-match', reason: /denied by DENY policy ns\/p \(rule 1\)/ },
  { name: 'notPrincipals spares the named one', policies: [pol('p', DENY, [{ notPrincipals: [{ exact: 'cluster.local/ns/a/sa/alice' }] }])], req: mtls(ALICE), allowed: true, code: 'no-policy' },
  { name: 'namespaces', policies: [pol('p', ALLOW, [{ namespaces: [{ exact: 'a' }] }])], req: mtls(ALICE), allowed: true, code: 'allow-match' },
  { name: 'namespaces miss', policies: [pol('p', ALLOW, [{ namespaces: [{ exact: 'a' }] }])], req: mtls(BOB), allowed: false, code: 'no-allow-match' },
  { name: 'notNamespaces matches plaintext (no namespace)', policies: [pol('p', DENY, [{ notNamespaces: [{ exact: 'a' }] }])], req: plain(), allowed: false, code: 'deny-match' },
  { name: 'serviceAccounts', policies: [pol('p', ALLOW, [{ serviceAccounts: [{ namespace: 'b', serviceAccount: 'bob' }] }])], req: mtls(BOB), allowed: true, code: 'allow-match' },
  { name: 'ipBlocks CIDR', policies: [pol('p', ALLOW, [{ sourceIps: [ip([10, 0, 0, 0], 8)] }])], req: plain(), allowed: true, code: 'allow-match' },
  { name: 'ipBlocks with an IPv4-mapped source', policies: [pol('p', ALLOW, [{ sourceIps: [ip([10, 0, 0, 1], 32)] }])], req: plain({ sourceIp: '::ffff:10.0.0.1' }), allowed: true, code: 'allow-match' },
  { name: 'ipBlocks other family never matches', policies: [pol('p', ALLOW, [{ sourceIps: [ip([10, 0, 0, 0], 8)] }])], req: plain({ sourceIp: 'fd00::1' }), allowed: false, code: 'no-allow-match' },
  { name: 'notIpBlocks', policies: [pol('p', DENY, [{ notSourceIps: [ip([192, 168, 0, 0], 16)] }])], req: plain(), allowed: false, code: 'deny-match' },
  { name: 'ports', policies: [pol('p', ALLOW, [{ destinationPorts: [80, 8080] }])], req: plain(), allowed: true, code: 'allow-match' },
  { name: 'notPorts', policies: [pol('p', ALLOW, [{ notDestinationPorts: [8080] }])], req: plain(), allowed: false, code: 'no-allow-match' },
  { name: 'destination ip', policies: [pol('p', DENY, [{ destinationIps: [ip([10, 0, 1, 0], 24)] }])], req: plain(), allowed: false, code: 'deny-match' },
  {
    name: 'from, to and when clauses are AND-ed',
    policies: [pol('p', ALLOW, [{ destinationPorts: [8080] }], [{ namespaces: [{ exact: 'a' }] }, { sourceIps: [ip([192, 168, 0, 0], 16)] }], [{ principals: [{ suffix: '/sa/alice' }] }], [{ notSourceIps: [ip([10, 0, 0, 9], 32)] }])],
    req: mtls(ALICE),
    allowed: true,
    code: 'allow-match',
  },
  {
    name: 'one failing clause fails the rule',
    policies: [pol('p', ALLOW, [{ destinationPorts: [8080] }], [{ namespaces: [{ exact: 'a' }] }], [{ destinationPorts: [9090] }])],
    req: mtls(ALICE),
    allowed: false,
    code: 'no-allow-match',
  },
  {
    name: 'rules are OR-ed',
    policies: [{ name: 'p', namespace: 'ns', scope: NAMESPACE, action: ALLOW, rules: [{ clauses: [{ matches: [{ destinationPorts: [1] }] }] }, { clauses: [{ matches: [{ destinationPorts: [8080] }] }] }] }],
    req: plain(),
    allowed: true,
    code: 'allow-match',
    reason: /rule 2/,
  },
  { name: 'DENY wins over a matching ALLOW', policies: [pol('a', ALLOW, [{ namespaces: [{ exact: 'a' }] }]), pol('d', DENY, [{ destinationPorts: [8080] }])], req: mtls(ALICE), allowed: false, code: 'deny-match', policy: 'ns/d' },
  { name: 'ALLOW without rules allows nothing', policies: [{ name: 'p', namespace: 'ns', scope: NAMESPACE, action: ALLOW, rules: [] }], req: mtls(ALICE), allowed: false, code: 'no-allow-match' },
  { name: 'DENY without rules denies nothing', policies: [{ name: 'p', namespace: 'ns', scope: NAMESPACE, action: DENY, rules: [] }], req: mtls(ALICE), allowed: true, code: 'no-policy' },
  { name: 'an empty clause matches', policies: [{ name: 'p', namespace: 'ns', scope: NAMESPACE, action: ALLOW, rules: [{ clauses: [{ matches: [] }] }] }], req: plain(), allowed: true, code: 'allow-match' },
  {
    name: 'DENY with an HTTP-only condition (empty match) fails closed',
    policies: [pol('p', DENY, [{}], [{ namespaces: [{ exact: 'b' }] }])],
    req: mtls(BOB),
    allowed: false,
    code: 'deny-match',
    reason: /HTTP-only attribute.*counts as a match for DENY/,
  },
  { name: 'DENY with an HTTP-only condition still needs its L4 part', policies: [pol('p', DENY, [{}], [{ namespaces: [{ exact: 'b' }] }])], req: mtls(ALICE), allowed: true, code: 'no-policy' },
  { name: 'ALLOW with an HTTP-only condition never matches', policies: [pol('p', ALLOW, [{}])], req: plain(), allowed: false, code: 'no-allow-match', reason: /cannot evaluate, which never match/ },
  {
    name: 'unknown string match kind: no match for ALLOW',
    policies: [pol('p', ALLOW, [{ principals: [{ $unknowns: [new Uint8Array([42, 1, 120])] }] }])],
    req: mtls(ALICE),
    allowed: false,
    code: 'no-allow-match',
  },
  {
    name: 'unknown match fields: a match for DENY',
    policies: [pol('p', DENY, [{ destinationPorts: [8080], $unknowns: [new Uint8Array([112, 1])] }])],
    req: plain(),
    allowed: false,
    code: 'deny-match',
    reason: /fields this proxy does not know/,
  },
  {
    name: 'policy extensions: a DENY denies everything',
    policies: [{ ...pol('p', DENY, [{ destinationPorts: [1] }]), extensions: [{ name: 'x' }] }],
    req: plain(),
    allowed: false,
    code: 'deny-match',
    reason: /extensions this proxy does not support/,
  },
  {
    name: 'dry-run (AUDIT) DENY reports, never denies',
    policies: [{ ...pol('audit', DENY, [{ destinationPorts: [8080] }]), dryRun: true }],
    req: plain(),
    allowed: true,
    code: 'no-policy',
    audit: ['ns/audit'],
  },
  {
    name: 'dry-run ALLOW does not make the workload allow-only',
    policies: [{ ...pol('audit', ALLOW, [{ destinationPorts: [1] }]), dryRun: true }],
    req: plain(),
    allowed: true,
    code: 'no-policy',
    audit: [],
  },
  { name: 'a named policy this proxy lacks fails closed', policies: [], missing: ['ns/late'], req: mtls(ALICE), allowed: false, code: 'unknown-policy', policy: 'ns/late', reason: /has not received/ },
  {
    name: 'static STRICT refuses plaintext with a PeerAuthentication reason',
    policies: [{ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: WORKLOAD_SELECTOR, action: DENY, rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }] }],
    req: plain(),
    allowed: false,
    code: 'deny-match',
    reason: /plaintext connection to port 8080 refused, PeerAuthentication requires mTLS/,
  },
  {
    name: 'static STRICT lets mTLS through',
    policies: [{ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: WORKLOAD_SELECTOR, action: DENY, rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }] }],
    req: mtls(BOB),
    allowed: true,
    code: 'no-policy',
  },
  {
    name: 'mTLS without a peer identity counts as plaintext',
    policies: [{ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: WORKLOAD_SELECTOR, action: DENY, rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }] }],
    req: { ...plain(), mtls: true },
    allowed: false,
    code: 'deny-match',
  },
];

describe('authorize', () => {
  it.each(cases)('$name', (c) => {
    const d = authorize({ policies: c.policies.map(compile), ...(c.missing ? { missing: c.missing } : {}) }, c.req);
    expect(d.allowed).toBe(c.allowed);
    expect(d.code).toBe(c.code);
    if (c.policy) expect(d.policy).toBe(c.policy);
    if (c.reason) expect(d.reason).toMatch(c.reason);
    if (c.audit) expect(d.audit.map((a) => a.policy)).toEqual(c.audit);
    expect(d.reason.length).toBeGreaterThan(10);
  });
});
