/**
 * PeerAuthentication -> istio.security.Authorization for node proxies, as istiod's ambient index
 * does it (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go, policies.go): node
 * proxies never see PeerAuthentication, only DENY policies that refuse connections without a peer
 * identity (`notPrincipals: [presence]`, i.e. plaintext):
 * - `<root>/istio_converted_static_strict`, sent whenever any PeerAuthentication exists, listed in
 *   `authorization_policies` of every workload whose effective mode (workload > namespace > mesh)
 *   is STRICT;
 * - `<ns>/converted_peer_authentication_<name>` for a workload-selector policy with portLevelMtls
 *   whose ports differ from the mode around them, merged with the inherited STRICT where needed
 *   (a second DENY could not carve out an exception: any matching DENY denies).
 * Weft's proto names upstream's Group/Rules as Rule/Clause. Where istiod's code strays from its own
 * precedence rule, this follows the rule: a namespace policy with mode UNSET inherits the mesh mode
 * in every case, and DISABLE counts as PERMISSIVE everywhere (ambient cannot switch mTLS off), so a
 * workload never names a converted policy that is not sent. Among several policies at one level the
 * first in namespace/name order wins (istiod: the oldest; Weft has no creation time).
 */
import type { ConfigResource } from '../config/snapshot.ts';
import { selectorMatches } from './authorization.ts';
import { EncodedResource } from './encoded-resource.ts';
import { istio } from './pb.ts';
import type { AuthorizationProto } from './pb.ts';
import { TYPE_URL } from './type-urls.ts';

export const STATIC_STRICT_POLICY_NAME = 'istio_converted_static_strict';
export const CONVERTED_PEER_AUTHENTICATION_PREFIX = 'converted_peer_authentication_';

type Mode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** The fields of a validated PeerAuthentication spec this conversion reads. */
export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Readonly<Record<string, string>> } | null;
  mtls?: { mode?: string } | null;
  portLevelMtls?: Readonly<Record<string, { mode?: string }>> | null;
}

export interface PeerAuthenticationRef {
  namespace: string;
  name: string;
  spec: PeerAuthenticationSpec;
}

const mode = (m: { mode?: string } | null | undefined): Mode => (m?.mode as Mode | undefined) ?? 'UNSET';
const strict = (m: Mode): boolean => m === 'STRICT';
const lax = (m: Mode): boolean => m === 'PERMISSIVE' || m === 'DISABLE';
const hasSelector = (p: PeerAuthenticationRef): boolean => Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
const portEntries = (p: PeerAuthenticationRef): [number, Mode][] =>
  Object.entries(p.spec.portLevelMtls ?? {})
    .map(([k, v]): [number, Mode] => [Number(k), mode(v)])
    .sort((a, b) => a[0] - b[0]);

const noIdentity = (): istio.security.Clause.$Properties => ({ matches: [{ notPrincipals: [{ presence: {} }] }] });

export function staticStrictPolicy(rootNamespace: string): AuthorizationProto {
  return {
    name: STATIC_STRICT_POLICY_NAME,
    namespace: rootNamespace,
    scope: istio.security.Scope.WORKLOAD_SELECTOR,
    action: istio.security.Action.DENY,
    rules: [{ clauses: [noIdentity()] }],
  };
}

/** The mode a workload inherits from the mesh-wide and namespace-wide policies. */
function inheritedStrict(nsPolicy: PeerAuthenticationRef | undefined, rootPolicy: PeerAuthenticationRef | undefined): boolean {
  const ns = mode(nsPolicy?.spec.mtls);
  if (nsPolicy && ns !== 'UNSET') return strict(ns);
  return strict(mode(rootPolicy?.spec.mtls));
}

/**
 * The Authorization for one workload-selector PeerAuthentication with port-level modes, or
 * undefined when the static STRICT policy (or nothing) expresses it.
 */
export function convertPeerAuthentication(pa: PeerAuthenticationRef, nsPolicy?: PeerAuthenticationRef, rootPolicy?: PeerAuthenticationRef): AuthorizationProto | undefined {
  const ports = portEntries(pa);
  if (!hasSelector(pa) || ports.length === 0) return undefined;
  const own = mode(pa.spec.mtls);
  const parentStrict = inheritedStrict(nsPolicy, rootPolicy);
  const effectiveStrict = strict(own) || (own === 'UNSET' && parentStrict);
  // One rule of AND-ed clauses (deny plaintext except on the lax ports), plus one rule per strict port.
  const clauses: istio.security.Clause.$Properties[] = [];
  const rules: istio.security.Rule.$Properties[] = [];
  for (const [port, m] of ports) {
    if (strict(m) && !effectiveStrict) {
      rules.push({ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }], destinationPorts: [port] }] }] });
    } else if (lax(m) && effectiveStrict) {
      clauses.push({ matches: [{ notDestinationPorts: [port] }] });
    }
  }
  if (clauses.length === 0 && rules.length === 0) return undefined;
  if (clauses.length > 0) rules.unshift({ clauses: [noIdentity(), ...clauses] });
  return {
    name: `${CONVERTED_PEER_AUTHENTICATION_PREFIX}${pa.name}`,
    namespace: pa.namespace,
    scope: istio.security.Scope.WORKLOAD_SELECTOR,
    action: istio.security.Action.DENY,
    rules,
  };
}

/**
 * Keys of the PeerAuthentication-derived policies a workload lists: its own converted policy when
 * that exists, else the static STRICT policy when its effective mode is STRICT.
 * `applicable`: mesh-wide (root namespace, no selector), its namespace's policies without selector,
 * and its namespace's selector policies that select it, in namespace/name order.
 */
export function peerAuthenticationKeys(rootNamespace: string, applicable: readonly PeerAuthenticationRef[]): string[] {
  const rootPolicy = applicable.find((p) => p.namespace === rootNamespace && !hasSelector(p));
  const nsPolicy = applicable.find((p) => p.namespace !== rootNamespace && !hasSelector(p));
  const wlPolicy = applicable.find((p) => p.namespace !== rootNamespace && hasSelector(p));
  let isStrict = inheritedStrict(nsPolicy, rootPolicy);
  if (wlPolicy) {
    const own = mode(wlPolicy.spec.mtls);
    if (own !== 'UNSET') isStrict = strict(own);
    // A converted policy holds the whole effect (the inherited STRICT merged in), so it replaces
    // the static one.
    if (convertPeerAuthentication(wlPolicy, nsPolicy, rootPolicy)) return [`${wlPolicy.namespace}/${CONVERTED_PEER_AUTHENTICATION_PREFIX}${wlPolicy.name}`];
  }
  return isStrict ? [`${rootNamespace}/${STATIC_STRICT_POLICY_NAME}`] : [];
}

export interface PeerAuthenticationTranslation {
  /** The Authorization resources (empty when the mesh has no PeerAuthentication). */
  resources: readonly EncodedResource[];
  /** The derived policy keys a workload with these labels lists. */
  keysFor(namespace: string, labels: Readonly<Record<string, string>>): string[];
}

/** Every PeerAuthentication of a snapshot (as the Store keeps them, sorted) -> resources and keys. */
export function translatePeerAuthentications(resources: readonly ConfigResource[], rootNamespace: string): PeerAuthenticationTranslation {
  if (resources.length === 0) return { resources: [], keysFor: () => [] };
  const refs: PeerAuthenticationRef[] = resources.map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name, spec: r.spec as PeerAuthenticationSpec }));
  const levelPolicy = (ns: string) => refs.find((p) => p.namespace === ns && !hasSelector(p));
  const rootPolicy = levelPolicy(rootNamespace);
  const encode = (a: AuthorizationProto) => new EncodedResource(TYPE_URL.authorization, `${a.namespace}/${a.name}`, istio.security.Authorization.encode(a).finish());
  const out = [encode(staticStrictPolicy(rootNamespace))];
  for (const pa of refs) {
    if (pa.namespace === rootNamespace) continue;
    const converted = convertPeerAuthentication(pa, levelPolicy(pa.namespace), rootPolicy);
    if (converted) out.push(encode(converted));
  }
  return {
    resources: out,
    keysFor: (namespace, labels) =>
      peerAuthenticationKeys(
        rootNamespace,
        refs.filter((p) => (p.namespace === rootNamespace && !hasSelector(p)) || (p.namespace === namespace && (!hasSelector(p) || selectorMatches(p.spec.selector, labels)))),
      ),
  };
}
