/**
 * security.istio.io AuthorizationPolicy, PeerAuthentication and RequestAuthentication (v1beta1 and v1
 * share them), Istio 1.29: the CRDs' rules and istiod's checks on condition keys, ports and ipBlocks.
 */
import * as z from './zod.ts';
import { lazy } from './lazy.ts';
import { PolicyTargetReference, WorkloadSelector, bool, duration, ipOrCidr, stringList } from './common.ts';
import { isIPOrCIDR } from '../../net/ip.ts';

const Source = z
  .strictObject({
    principals: stringList().optional(),
    notPrincipals: stringList().optional(),
    requestPrincipals: stringList().optional(),
    notRequestPrincipals: stringList().optional(),
    namespaces: stringList().optional(),
    notNamespaces: stringList().optional(),
    serviceAccounts: z.array(serviceAccountRef()).max(16, 'must have at most 16 items').optional(),
    notServiceAccounts: z.array(serviceAccountRef()).max(16, 'must have at most 16 items').optional(),
    ipBlocks: z.array(ipOrCidr()).optional(),
    notIpBlocks: z.array(ipOrCidr()).optional(),
    remoteIpBlocks: z.array(ipOrCidr()).optional(),
    notRemoteIpBlocks: z.array(ipOrCidr()).optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.serviceAccounts || s.notServiceAccounts) && (s.principals || s.notPrincipals || s.namespaces || s.notNamespaces)) {
      ctx.addIssue({ code: 'custom', message: 'serviceAccounts cannot be set together with namespaces or principals' });
    }
  });

/** `namespace/name`, no wildcards (Istio 1.25+). */
function serviceAccountRef() {
  return z
    .string()
    .max(320, 'must be at most 320 characters')
    .superRefine((s, ctx) => {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: `"${s}" must be namespace/name (no wildcards)` });
      }
    });
}

const portString = () =>
  z.string().superRefine((s, ctx) => {
    if (!/^[0-9]+$/.test(s) || Number(s) > 65535) ctx.addIssue({ code: 'custom', message: `"${s}" is not a port (0..65535)` });
  });

const Operation = z.strictObject({
  hosts: stringList().optional(),
  notHosts: stringList().optional(),
  ports: z.array(portString()).optional(),
  notPorts: z.array(portString()).optional(),
  methods: stringList().optional(),
  notMethods: stringList().optional(),
  paths: stringList().optional(),
  notPaths: stringList().optional(),
});

/** Condition keys Istio accepts in `when` (security/authz conditions reference). */
const CONDITION_KEYS = [
  'source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'source.serviceAccount',
  'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter',
  'destination.ip', 'destination.port', 'connection.sni',
];
const CONDITION_PREFIXES = [/^request\.headers\[[^\]]+\]$/, /^request\.auth\.claims(\[[^\]]+\])+$/, /^experimental\.envoy\.filters\./];

const Condition = z
  .strictObject({
    key: z.string().superRefine((k, ctx) => {
      if (!CONDITION_KEYS.includes(k) && !CONDITION_PREFIXES.some((re) => re.test(k))) {
        ctx.addIssue({ code: 'custom', message: `"${k}" is not a condition key (e.g. request.headers[x-user], source.ip, destination.port)` });
      }
    }),
    values: stringList().optional(),
    notValues: stringList().optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.values?.length && !c.notValues?.length) ctx.addIssue({ code: 'custom', message: 'one of values or notValues must be set' });
    const check = (list: string[] | undefined, field: string, ok: (v: string) => boolean, what: string) =>
      list?.forEach((v, i) => {
        if (!ok(v)) ctx.addIssue({ code: 'custom', path: [field, i], message: `"${v}" is not ${what}` });
      });
    if (c.key === 'source.ip' || c.key === 'remote.ip' || c.key === 'destination.ip') {
      check(c.values, 'values', isIPOrCIDR, 'an IP address or CIDR block');
      check(c.notValues, 'notValues', isIPOrCIDR, 'an IP address or CIDR block');
    }
    if (c.key === 'destination.port') {
      const isPort = (v: string) => /^[0-9]+$/.test(v) && Number(v) <= 65535;
      check(c.values, 'values', isPort, 'a port');
      check(c.notValues, 'notValues', isPort, 'a port');
    }
  });

const Rule = z.strictObject({
  from: z.array(z.strictObject({ source: Source })).max(512).optional(),
  to: z.array(z.strictObject({ operation: Operation })).optional(),
  when: z.array(Condition).optional(),
});

const targeting = <T extends { selector?: unknown; targetRef?: unknown; targetRefs?: unknown[] }>(p: T, ctx: z.core.$RefinementCtx<T>) => {
  const set = [p.selector && 'selector', p.targetRef && 'targetRef', p.targetRefs && 'targetRefs'].filter(Boolean);
  if (set.length > 1) ctx.addIssue({ code: 'custom', message: `only one of selector, targetRef, targetRefs may be set (found ${set.join(', ')})` });
};

export const AuthorizationPolicySpec = z
  .strictObject({
    selector: WorkloadSelector.optional(),
    targetRef: PolicyTargetReference.optional(),
    targetRefs: z.array(PolicyTargetReference).max(16, 'must have at most 16 items').optional(),
    rules: z.array(Rule).max(512, 'must have at most 512 rules').optional(),
    action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']).default('ALLOW'),
    provider: z.strictObject({ name: z.string().min(1, 'must not be empty') }).optional(),
  })
  .superRefine(targeting)
  .superRefine((p, ctx) => {
    if (p.action === 'CUSTOM' && !p.provider) ctx.addIssue({ code: 'custom', path: ['provider'], message: 'is required when action is CUSTOM' });
    if (p.action !== 'CUSTOM' && p.provider) ctx.addIssue({ code: 'custom', path: ['provider'], message: 'may only be set when action is CUSTOM' });
  });

// built when the first resource of its kind is validated (lazy.ts)
export const peerAuthenticationSpec = lazy(() => {
  const MtlsMode = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
  const PeerAuthenticationSpec = z
    .strictObject({
      selector: WorkloadSelector.optional(),
      mtls: z.strictObject({ mode: MtlsMode.default('UNSET') }).optional(),
      portLevelMtls: z
        .record(z.string(), z.strictObject({ mode: MtlsMode.default('UNSET') }))
        .superRefine((m, ctx) => {
          for (const k of Object.keys(m)) {
            if (!/^[0-9]+$/.test(k) || Number(k) < 1 || Number(k) > 65535) ctx.addIssue({ code: 'custom', path: [k], message: 'port must be 1..65535' });
          }
        })
        .optional(),
    })
    .superRefine((p, ctx) => {
      if (p.portLevelMtls && Object.keys(p.selector?.matchLabels ?? {}).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['portLevelMtls'], message: 'requires a selector with matchLabels' });
      }
    });
  return PeerAuthenticationSpec;
});

// built when the first resource of its kind is validated (lazy.ts)
export const requestAuthenticationSpec = lazy(() => {
  const httpUrl = () =>
    z
      .string()
      .min(1)
      .max(2048)
      .superRefine((s, ctx) => {
        if (!/^https?:\/\/[^/\s]+/.test(s)) ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
      });

  const JWTRule = z
    .strictObject({
      issuer: z.string().min(1, 'must not be empty'),
      audiences: z.array(z.string().min(1, 'must not be empty')).optional(),
      jwksUri: httpUrl().optional(),
      jwks_uri: httpUrl().optional(),
      jwks: z.string().optional(),
      fromHeaders: z.array(z.strictObject({ name: z.string().min(1, 'must not be empty'), prefix: z.string().optional() })).optional(),
      fromParams: z.array(z.string().min(1, 'must not be empty')).optional(),
      fromCookies: z.array(z.string().min(1, 'must not be empty')).optional(),
      outputPayloadToHeader: z.string().optional(),
      forwardOriginalToken: bool().optional(),
      outputClaimToHeaders: z
        .array(z.strictObject({ header: z.string().regex(/^[-_A-Za-z0-9]+$/, 'must be a header name (letters, digits, - and _)'), claim: z.string().min(1, 'must not be empty') }))
        .optional(),
      spaceDelimitedClaims: z.array(z.string().min(1)).max(64).optional(),
      timeout: duration().optional(),
    })
    .superRefine((r, ctx) => {
      const set = [r.jwksUri, r.jwks_uri, r.jwks].filter((x) => x !== undefined).length;
      if (set > 1) ctx.addIssue({ code: 'custom', message: 'only one of jwks, jwksUri may be set' });
    });

  const RequestAuthenticationSpec = z
    .strictObject({
      selector: WorkloadSelector.optional(),
      targetRef: PolicyTargetReference.optional(),
      targetRefs: z.array(PolicyTargetReference).max(16).optional(),
      jwtRules: z.array(JWTRule).max(4096).optional(),
    })
    .superRefine(targeting);
  return RequestAuthenticationSpec;
});

export type AuthorizationPolicySpec = z.output<typeof AuthorizationPolicySpec>;
export type PeerAuthenticationSpec = z.output<ReturnType<typeof peerAuthenticationSpec>>;
export type RequestAuthenticationSpec = z.output<ReturnType<typeof requestAuthenticationSpec>>;
