/**
 * AuthorizationPolicy and RequestAuthentication for gateways and waypoints -> the HTTP filters istiod
 * puts before the router (pilot/pkg/security/authz/builder, pilot/pkg/security/authn):
 * `envoy.filters.http.jwt_authn` (all jwtRules of the applicable RequestAuthentications), then per
 * CUSTOM provider an RBAC filter whose shadow rules mark the requests it must check and the
 * `envoy.filters.http.ext_authz` filter enabled by that mark, then RBAC LOG (AUDIT), RBAC DENY and
 * RBAC ALLOW, each only when some policy has that action.
 *
 * Which policies apply (Istio's rules):
 * - a gateway: `targetRefs` naming a Gateway API Gateway it serves (kind Gateway, the policy's
 *   namespace), else a `selector` (or none) in the root namespace or the proxy's namespace whose
 *   labels are in the proxy's labels (a Gateway API Gateway's proxy also carries
 *   `gateway.networking.k8s.io/gateway-name: <name>` in that Gateway's namespace);
 * - a waypoint: only `targetRefs`: its Gateway, the GatewayClass `istio-waypoint` (root namespace),
 *   or a Service it serves (that service's listeners only). Selector policies never apply to it.
 */
import type { ConfigIssue } from '../../config/issues.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo } from '../../config/snapshot.ts';
import type { ExtensionProvider } from '../../config/schema/mesh-config.ts';
import type { AuthorizationPolicySpec } from '../authorization.ts';
import { envoy } from '../pb.ts';
import type { HttpConnectionManagerProto } from '../pb.ts';
import { any, duration, msDuration } from './proto-util.ts';
import { MATCH_NEVER, rulePolicy, type PolicyProto, type RbacAction } from './authz-rbac.ts';
import { jwtAuthnFilter, type RequestAuthenticationSpec } from './authz-jwt.ts';
import { subsetClusterName } from './names.ts';
import type { L7Proxy } from './scope.ts';

export type HttpFilterProto = NonNullable<HttpConnectionManagerProto['httpFilters']>[number];
type Warn = (res: ConfigResource, path: string, message: string) => void;

const PREFIX = 'type.googleapis.com/';
export const AUTHZ_FILTER = { rbac: 'envoy.filters.http.rbac', jwt: 'envoy.filters.http.jwt_authn', extAuthz: 'envoy.filters.http.ext_authz' } as const;
export const AUTHZ_TYPE_URL = {
  rbac: `${PREFIX}envoy.extensions.filters.http.rbac.v3.RBAC`,
  jwt: `${PREFIX}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`,
  extAuthz: `${PREFIX}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`,
} as const;
/** Scope keys of applicable policies (beside the gateway keys, so views are cached by them too). */
export const AUTHZ_KEY_PREFIX = 'authz/';
const EXT_AUTHZ_PREFIX = 'istio-ext-authz';
const EXT_AUTHZ_STAT_PREFIX = 'istio_ext_authz_';
const Action = envoy.config.rbac.v3.RBAC.Action;

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
interface TargetRef {
  group?: string;
  kind: string;
  name: string;
}

function targetRefsOf(spec: { targetRef?: unknown; targetRefs?: readonly unknown[] }): TargetRef[] {
  return [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])] as TargetRef[];
}

function labelsMatch(selector: { matchLabels?: Readonly<Record<string, string>> } | null | undefined, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  return true;
}

const keyOf = (r: ConfigResource) => `${AUTHZ_KEY_PREFIX}${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;

/**
 * The policy keys (`authz/<kind>/<ns>/<name>`) that apply to a proxy serving `served` gateway keys
 * (`k8s/<ns>/<name>`, `istio/...`, `waypoint/...`).
 */
export function applicableAuthz(snapshot: MeshSnapshot, proxy: L7Proxy, served: readonly string[]): string[] {
  const root = snapshot.mesh.rootNamespace;
  const out: string[] = [];
  const k8s = served.filter((k) => k.startsWith('k8s/')).map((k) => k.split('/'));
  const waypoints = served.filter((k) => k.startsWith('waypoint/')).map((k) => k.split('/'));
  for (const kind of ['AuthorizationPolicy', 'RequestAuthentication']) {
    for (const r of snapshot.resources.get(kind) ?? []) {
      const spec = r.spec as { selector?: { matchLabels?: Record<string, string> } | null; targetRef?: unknown; targetRefs?: unknown[] };
      const ns = r.metadata.namespace;
      const refs = targetRefsOf(spec);
      let applies = false;
      if (refs.length) {
        for (const ref of refs) {
          if (ref.kind === 'Gateway' && (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP) {
            if (k8s.some(([, gns, name]) => gns === ns && name === ref.name) || waypoints.some(([, wns, name]) => wns === ns && name === ref.name)) applies = true;
          } else if (ref.kind === 'GatewayClass' && ns === root && ref.name === 'istio-waypoint' && waypoints.length) applies = true;
          else if (ref.kind === 'Service' && !ref.group && waypoints.length) {
            if (snapshot.services.some((s) => s.namespace === ns && s.name === ref.name && waypoints.some(([, wns, name]) => s.waypoint?.namespace === wns && s.waypoint.name === name))) applies = true;
          }
        }
      } else if (proxy.role === 'gateway') {
        if ((ns === root || ns === proxy.namespace) && labelsMatch(spec.selector, proxy.labels)) applies = true;
        for (const [, gns, name] of k8s) {
          if ((ns === root || ns === gns) && labelsMatch(spec.selector, { ...proxy.labels, 'gateway.networking.k8s.io/gateway-name': name!, 'istio.io/gateway-name': name! })) applies = true;
        }
      }
      if (applies) out.push(keyOf(r));
    }
  }
  return out.sort();
}

/** Whether a policy applies to one waypoint service (targets the waypoint, its class, or that Service). */
function appliesToService(r: ConfigResource, svc: ServiceInfo | undefined): boolean {
  if (!svc) return true;
  const refs = targetRefsOf(r.spec as { targetRef?: unknown; targetRefs?: unknown[] });
  return refs.length === 0 || refs.some((ref) => ref.kind !== 'Service' || (ref.name === svc.name && r.metadata.namespace === svc.namespace));
}

export interface AuthzFilterOptions {
  /** Gateways and sidecars match source identities with `authenticated`, waypoints with the peer principal filter state. */
  useAuthenticated: boolean;
  /** A waypoint's service listener: policies targeting other Services are left out. */
  service?: ServiceInfo;
  warn: Warn;
}

/** Resources for the applicable keys, in Istio's order (by creation: here namespace, then name). */
function resourcesFor(snapshot: MeshSnapshot, keys: readonly string[], kind: string): ConfigResource[] {
  const want = new Set(keys);
  return (snapshot.resources.get(kind) ?? []).filter((r) => want.has(keyOf(r))).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

function rbacFilter(rules: envoy.config.rbac.v3.RBAC.$Properties | undefined, shadow?: { rules: envoy.config.rbac.v3.RBAC.$Properties; statPrefix: string }): HttpFilterProto {
  const msg: envoy.extensions.filters.http.rbac.v3.RBAC.$Properties = {};
  if (rules) msg.rules = rules;
  if (shadow) {
    msg.shadowRules = shadow.rules;
    msg.shadowRulesStatPrefix = shadow.statPrefix;
  }
  return { name: AUTHZ_FILTER.rbac, typedConfig: any(AUTHZ_TYPE_URL.rbac, envoy.extensions.filters.http.rbac.v3.RBAC.encode(msg).finish()) };
}

function policyName(ns: string, name: string, rule: number, provider?: string): string {
  return `${provider !== undefined ? `${EXT_AUTHZ_PREFIX}-${provider}-` : ''}ns[${ns}]-policy[${name}]-rule[${rule}]`;
}

function policiesOf(list: readonly ConfigResource[], action: RbacAction, o: AuthzFilterOptions, provider?: (r: ConfigResource) => string): Record<string, PolicyProto> {
  const out: Record<string, PolicyProto> = {};
  for (const r of list) {
    const spec = r.spec as AuthorizationPolicySpec;
    const ns = r.metadata.namespace;
    const prov = provider?.(r);
    const rules = spec.rules ?? [];
    rules.forEach((rule, i) => {
      const name = policyName(ns, r.metadata.name, i, prov);
      const errors: string[] = [];
      const p = rulePolicy(rule ?? {}, ns, action, o.useAuthenticated, errors);
      if ('error' in p) o.warn(r, `spec.rules[${i}]`, `rule skipped: ${p.error}`);
      else out[name] = p;
      for (const e of errors) o.warn(r, `spec.rules[${i}]`, `value ignored: ${e}`);
    });
    if (rules.length === 0) out[policyName(ns, r.metadata.name, 0, prov)] = MATCH_NEVER;
  }
  return out;
}

/** The jwt_authn, ext_authz and RBAC filters for the applicable keys, in istiod's order. */
export function authzFilters(snapshot: MeshSnapshot, keys: readonly string[], o: AuthzFilterOptions): HttpFilterProto[] {
  if (keys.length === 0) return [];
  const filters: HttpFilterProto[] = [];
  const ras = resourcesFor(snapshot, keys, 'RequestAuthentication').filter((r) => appliesToService(r, o.service));
  const jwt = jwtAuthnFilter(ras.map((r) => ({ resource: r, spec: r.spec as RequestAuthenticationSpec })), snapshot, o.warn);
  if (jwt) filters.push({ name: AUTHZ_FILTER.jwt, typedConfig: any(AUTHZ_TYPE_URL.jwt, envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.encode(jwt).finish()) });
  const aps = resourcesFor(snapshot, keys, 'AuthorizationPolicy').filter((r) => appliesToService(r, o.service));
  const byAction = (a: string) => aps.filter((r) => ((r.spec as AuthorizationPolicySpec).action ?? 'ALLOW') === a);
  const dryRun = (r: ConfigResource) => r.metadata.annotations['istio.io/dry-run'] === 'true';
  // CUSTOM: per provider (sorted), an RBAC filter whose shadow rules mark matching requests, then ext_authz.
  const custom = byAction('CUSTOM');
  const providers = [...new Set(custom.map((r) => (r.spec as { provider?: { name: string } }).provider?.name ?? ''))].sort();
  for (const name of providers) {
    const mine = custom.filter((r) => (r.spec as { provider?: { name: string } }).provider?.name === name);
    const enforced = mine.filter((r) => !dryRun(r));
    const ext = extAuthzFor(snapshot, name, name);
    if ('error' in ext) {
      for (const r of mine) o.warn(r, 'spec.provider.name', `${ext.error}; the policy's requests are denied (istiod's bad CUSTOM action)`);
      const pols = policiesOf(mine, 'DENY', o, () => name);
      const renamed = Object.fromEntries(Object.entries(pols).map(([k, v]) => [`${k}-deny-due-to-bad-CUSTOM-action`, v]));
      filters.push(rbacFilter({ action: Action.DENY, policies: renamed }));
      continue;
    }
    const shadow = { rules: { action: Action.DENY, policies: policiesOf(enforced, 'DENY', o, () => name) }, statPrefix: EXT_AUTHZ_STAT_PREFIX };
    const dry = mine.filter(dryRun);
    filters.push(rbacFilter(dry.length ? { action: Action.DENY, policies: policiesOf(dry, 'DENY', o, () => name) } : undefined, shadow));
    filters.push({ name: AUTHZ_FILTER.extAuthz, typedConfig: any(AUTHZ_TYPE_URL.extAuthz, envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.encode(ext).finish()) });
  }
  for (const [kind, action, rbac] of [['AUDIT', 'LOG', Action.LOG], ['DENY', 'DENY', Action.DENY], ['ALLOW', 'ALLOW', Action.ALLOW]] as const) {
    const list = byAction(kind);
    if (!list.length) continue;
    const enforced = list.filter((r) => !dryRun(r));
    const dry = list.filter(dryRun);
    const rules = enforced.length ? { action: rbac, policies: policiesOf(enforced, action, o) } : undefined;
    const shadow = dry.length ? { rules: { action: rbac, policies: policiesOf(dry, action, o) }, statPrefix: rbac === Action.ALLOW ? 'istio_dry_run_allow_' : rbac === Action.DENY ? 'istio_dry_run_deny_' : '' } : undefined;
    filters.push(rbacFilter(rules, shadow));
  }
  return filters;
}

/** A mesh extension provider -> ext_authz over HTTP (istiod's generateHTTPConfig), or why not. */
export function extAuthzFor(snapshot: MeshSnapshot, providerName: string, providerKey: string): envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.$Properties | { error: string } {
  const p: ExtensionProvider | undefined = snapshot.mesh.extensionProviders?.find((x) => x.name === providerName);
  if (!p) return { error: `no extension provider named ${JSON.stringify(providerName)} in the mesh config (extensionProviders)` };
  const c = p.envoyExtAuthzHttp;
  if (!c) return { error: `extension provider ${providerName} is not envoyExtAuthzHttp (the only CUSTOM kind supported)` };
  const slash = c.service.indexOf('/');
  const host = slash < 0 ? c.service : c.service.slice(slash + 1);
  const svc = snapshot.services.find((s) => s.hostname === host && (slash < 0 || s.namespace === c.service.slice(0, slash)));
  if (!svc) return { error: `extension provider ${providerName}: service ${c.service} not found` };
  let status: number | undefined;
  if (c.statusOnError) {
    status = Number(c.statusOnError);
    if (!Number.isInteger(status) || status < 100 || status > 599) return { error: `extension provider ${providerName}: invalid statusOnError ${JSON.stringify(c.statusOnError)}` };
  }
  const headers = (hs: readonly string[] | undefined): envoy.type.matcher.v3.ListStringMatcher.$Properties | undefined =>
    hs?.length ? { patterns: hs.map((h) => (h.startsWith('*') ? { suffix: h.slice(1), ignoreCase: true } : h.endsWith('*') ? { prefix: h.slice(0, -1), ignoreCase: true } : { exact: h, ignoreCase: true })) } : undefined;
  const service: envoy.extensions.filters.http.ext_authz.v3.HttpService.$Properties = {
    pathPrefix: c.pathPrefix ?? '',
    serverUri: { uri: `http://${svc.hostname}`, cluster: subsetClusterName(svc.hostname, c.port), timeout: duration(c.timeout) ?? msDuration(600_000) },
  };
  const add = Object.keys(c.includeAdditionalHeadersInCheck ?? {}).sort();
  if (add.length) service.authorizationRequest = { headersToAdd: add.map((key) => ({ key, value: c.includeAdditionalHeadersInCheck![key]! })) };
  if (c.headersToUpstreamOnAllow?.length || c.headersToDownstreamOnDeny?.length || c.headersToDownstreamOnAllow?.length) {
    const r: envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse.$Properties = {};
    const up = headers(c.headersToUpstreamOnAllow);
    const deny = headers(c.headersToDownstreamOnDeny);
    const ok = headers(c.headersToDownstreamOnAllow);
    if (up) r.allowedUpstreamHeaders = up;
    if (deny) r.allowedClientHeaders = deny;
    if (ok) r.allowedClientHeadersOnSuccess = ok;
    service.authorizationResponse = r;
  }
  const out: envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.$Properties = {
    httpService: service,
    failureModeAllow: c.failOpen === true,
    transportApiVersion: envoy.config.core.v3.ApiVersion.V3,
    filterEnabledMetadata: {
      filter: AUTHZ_FILTER.rbac,
      path: [{ key: `${EXT_AUTHZ_STAT_PREFIX}shadow_effective_policy_id` }],
      value: { stringMatch: { prefix: `${EXT_AUTHZ_PREFIX}-${providerKey}` } },
    },
  };
  if (status !== undefined) out.statusOnError = { code: status };
  const allowed = headers(c.includeRequestHeadersInCheck) ?? headers(c.includeHeadersInCheck);
  if (allowed) out.allowedHeaders = allowed;
  return out;
}

export type { ConfigIssue };
