/**
 * REST-JSON xDS answers (design.md 4; the contract is hosts/edge/config-contract.ts): a proxy's view
 * of a translation (proxy-views.ts, the same view an ADS stream gets) as one proto3-JSON
 * DiscoveryResponse per type. Used by the control plane's `POST /v3/discovery:<type>`
 * (control/rest-xds.ts) and by `weft edge snapshot`.
 *
 * Never Secrets: the edge host terminates no TLS itself (its platform does), so no Secret is served;
 * a gateway listener that names one is served as it is (it holds only the SDS name, no key material)
 * and `secretWarnings` says so for /debug/status.
 *
 * With no resource names, routes are the ones the served listeners name (what an ADS gateway
 * subscribes to), endpoints are every cluster's; with names, the named ones.
 */
import type { ConfigIssue } from '../../../core/config/issues.ts';
import { contentHash, TYPE_URL } from '../../../core/xds/index.ts';
import type { EncodedResource, XdsResources } from '../../../core/xds/index.ts';
import { resourceToJson, type ResourceJson } from '../../../core/xds/rest-json.ts';
import { REST_XDS_TYPES, type DiscoveryResponseJson, type RestXdsType } from '../../edge/config-contract.ts';

/** The types a gateway polls (all but the workload API, which is for node proxies). */
export const GATEWAY_REST_TYPES: readonly RestXdsType[] = ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs'];

/** The REST types a caller of this kind may poll. */
export function restTypesFor(callerKind: string | undefined): readonly RestXdsType[] {
  return callerKind === 'node' ? [...GATEWAY_REST_TYPES, 'workloads'] : GATEWAY_REST_TYPES;
}

export function isRestXdsType(s: string): s is RestXdsType {
  return Object.prototype.hasOwnProperty.call(REST_XDS_TYPES, s);
}

/** JSON of a resource, made once per encoded resource (unchanged resources keep theirs across translations). */
const jsonCache = new WeakMap<EncodedResource, ResourceJson>();
function jsonOf(r: EncodedResource): ResourceJson {
  let j = jsonCache.get(r);
  if (!j) jsonCache.set(r, (j = resourceToJson(r.typeUrl, r.bytes)));
  return j;
}

/** Per view and type: the wildcard answer (the common poll), made once. */
const answerCache = new WeakMap<XdsResources, Map<RestXdsType, DiscoveryResponseJson>>();

/** One type's DiscoveryResponse for a view; versionInfo is a hash of what it holds. */
export function restResponse(view: XdsResources, type: RestXdsType, resourceNames: readonly string[] = []): DiscoveryResponseJson {
  const wildcard = resourceNames.length === 0;
  const cached = wildcard ? answerCache.get(view)?.get(type) : undefined;
  if (cached) return cached;
  const typeUrl = REST_XDS_TYPES[type];
  const byName = view.resources.get(typeUrl) ?? new Map<string, EncodedResource>();
  let names: string[];
  if (!wildcard) names = [...new Set(resourceNames)].filter((n) => byName.has(n));
  else if (type === 'routes') names = [...routeNamesOf(view)].filter((n) => byName.has(n));
  else names = [...byName.keys()];
  names.sort();
  const picked = names.map((n) => byName.get(n)!);
  const versionInfo = contentHash(new TextEncoder().encode(`${typeUrl}\n${picked.map((r) => `${r.name}\0${r.version}`).join('\n')}`));
  const answer: DiscoveryResponseJson = { versionInfo, resources: picked.map(jsonOf), typeUrl, nonce: versionInfo };
  if (wildcard) {
    let m = answerCache.get(view);
    if (!m) answerCache.set(view, (m = new Map()));
    m.set(type, answer);
  }
  return answer;
}

/** Every type a caller of this kind receives, as the edge host holds them. */
export function restResponses(view: XdsResources, callerKind: string | undefined): Partial<Record<RestXdsType, DiscoveryResponseJson>> {
  const out: Partial<Record<RestXdsType, DiscoveryResponseJson>> = {};
  for (const t of restTypesFor(callerKind)) out[t] = restResponse(view, t);
  return out;
}

/** The route configurations the view's listeners name (HCM `rds.routeConfigName`). */
function routeNamesOf(view: XdsResources): Set<string> {
  const out = new Set<string>();
  for (const l of view.resources.get(TYPE_URL.listener)?.values() ?? []) collect(jsonOf(l), (key, v) => key === 'routeConfigName' && typeof v === 'string' && void out.add(v));
  return out;
}

const secretRefsCache = new WeakMap<XdsResources, { listener: string; secret: string }[]>();

/** The Secrets (SDS names) the view's listeners refer to, by listener (once per view). */
export function secretRefsOf(view: XdsResources): { listener: string; secret: string }[] {
  const hit = secretRefsCache.get(view);
  if (hit) return hit;
  const out: { listener: string; secret: string }[] = [];
  secretRefsCache.set(view, out);
  for (const l of view.resources.get(TYPE_URL.listener)?.values() ?? []) {
    const seen = new Set<string>();
    collect(jsonOf(l), (key, v) => {
      if (!/SdsSecretConfigs?$/.test(key)) return;
      for (const c of Array.isArray(v) ? v : [v]) {
        const name = (c as { name?: unknown } | null)?.name;
        if (typeof name === 'string' && !seen.has(name)) {
          seen.add(name);
          out.push({ listener: l.name, secret: name });
        }
      }
    });
  }
  return out;
}

/** The warnings for /debug/status when a REST caller's listeners name Secrets it is not given. */
export function secretWarnings(view: XdsResources, gateway: { kind: string; namespace: string; name: string }): ConfigIssue[] {
  return secretRefsOf(view).map(({ listener, secret }) => ({
    severity: 'warning',
    file: '',
    line: 0,
    resource: { kind: 'Gateway', namespace: gateway.namespace, name: gateway.name },
    path: '',
    message: `REST xDS (edge host): listener ${listener} names the TLS Secret ${secret}, served without key material: the edge host terminates no TLS itself, so terminate it in the platform in front of it (the ${gateway.kind} ${gateway.namespace}/${gateway.name} gets plaintext)`,
  }));
}

function collect(v: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(v)) for (const x of v) collect(x, visit);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      visit(k, x);
      collect(x, visit);
    }
  }
}
