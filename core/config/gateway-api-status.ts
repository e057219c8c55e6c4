/**
 * Gateway API status, computed in core as Gateway API v1.4 specifies it: GatewayClass (Accepted,
 * SupportedVersion), Gateway (Accepted, Programmed, status.addresses, per listener Accepted /
 * ResolvedRefs / Programmed / Conflicted, supportedKinds, attachedRoutes) and each route's parent
 * status (Accepted: NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname; ResolvedRefs:
 * BackendNotFound, RefNotPermitted, InvalidKind). The same attachment decisions feed the xDS
 * translator (core/xds/l7), so what status says is what proxies receive.
 * Spec: https://gateway-api.sigs.k8s.io/reference/spec/ (v1.4, standard channel).
 */
import type { ConfigResource, MeshSnapshot, ServiceInfo } from './snapshot.ts';
import type { GatewaySpec } from './schema/gateway-api.ts';
import { GATEWAY_GROUP } from './schema/gateway-api.ts';
import { isIstioGateway } from './kinds.ts';
import { WAYPOINT_CLASS } from './build-context.ts';

export const WEFT_CONTROLLER = 'weft.io/gateway-controller';
export const ISTIO_CONTROLLER = 'istio.io/gateway-controller';
export const WAYPOINT_CONTROLLER = 'istio.io/mesh-controller';
/** Classes that exist without being declared, and their controllers (design.md 4). */
export const BUILTIN_CLASSES: Readonly<Record<string, string>> = { weft: WEFT_CONTROLLER, istio: ISTIO_CONTROLLER, [WAYPOINT_CLASS]: WAYPOINT_CONTROLLER };
const OUR_CONTROLLERS = new Set([WEFT_CONTROLLER, ISTIO_CONTROLLER, WAYPOINT_CONTROLLER]);

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  namespace: string;
  name: string;
  gatewayClassName: string;
  addresses: { type: string; value: string }[];
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export interface RouteParentStatus {
  parentRef: { group: string; kind: string; namespace: string; name: string; sectionName?: string; port?: number };
  controllerName: string;
  conditions: Condition[];
}

export interface RouteStatus {
  kind: string;
  namespace: string;
  name: string;
  parents: RouteParentStatus[];
}

export interface GatewayApiStatus {
  gatewayClasses: { name: string; controllerName: string; builtin: boolean; conditions: Condition[] }[];
  gateways: GatewayStatus[];
  routes: RouteStatus[];
}

type Listener = GatewaySpec['listeners'][number];

/** One route attached to one listener of a Gateway, with the hostnames it serves there ([] = any). */
export interface GatewayAttachment {
  route: ConfigResource;
  gateway: ConfigResource;
  listener: Listener;
  hostnames: string[];
}

/** One route attached to a Service (GAMMA), on one port or all. */
export interface MeshAttachment {
  route: ConfigResource;
  service: ServiceInfo;
  port?: number;
}

export interface GatewayApiModel {
  status: GatewayApiStatus;
  /** Gateways (not waypoints) this controller programs, with their valid listeners. */
  gateways: { gateway: ConfigResource; listeners: Listener[] }[];
  attachments: GatewayAttachment[];
  mesh: MeshAttachment[];
  /** Whether a backend reference resolves, as ResolvedRefs reports it. */
  backend: BackendResolver;
}

export type BackendProblem = { reason: 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind'; message: string };
export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}
export type BackendResolver = (route: ConfigResource, ref: BackendRef) => { service: ServiceInfo; port: number } | BackendProblem;

const cond = (type: string, ok: boolean, reason: string, message: string, generation?: number): Condition => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
  ...(generation !== undefined ? { observedGeneration: generation } : {}),
});

/** Whether a Gateway API GatewayClass name is one this controller serves (waypoints included). */
export function classController(snapshot: MeshSnapshot, className: string): string | undefined {
  const declared = (snapshot.resources.get('GatewayClass') ?? []).find((c) => c.metadata.name === className);
  if (declared) return (declared.spec as { controllerName: string }).controllerName;
  return BUILTIN_CLASSES[className];
}

export function isOurController(controller: string | undefined): boolean {
  return controller !== undefined && OUR_CONTROLLERS.has(controller);
}

/** Gateway API hostname intersection: the names both a listener and a route accept (undefined = none). */
export function intersectHostnames(listener: string | undefined, route: readonly string[] | undefined): string[] | undefined {
  if (!route?.length) return listener ? [listener] : [];
  if (!listener) return [...route];
  const out: string[] = [];
  for (const h of route) {
    if (hostMatches(listener, h)) out.push(h);
    else if (hostMatches(h, listener)) out.push(listener);
  }
  return out.length ? [...new Set(out)] : undefined;
}

/** Whether `pattern` (a host or `*.suffix`) accepts `host` (a host or a narrower wildcard). */
function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length;
}

function selectorMatches(sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'];
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTPS']);

/** Computes status and attachments of every Gateway API resource this controller owns. */
export function gatewayApiModel(snapshot: MeshSnapshot): GatewayApiModel {
  const of = (kind: string) => snapshot.resources.get(kind) ?? [];
  const suffix = snapshot.mesh.domainSuffix;
  const grants = of('ReferenceGrant');
  const granted = (fromKind: string, fromNs: string, toGroup: string, toKind: string, toNs: string, name: string) =>
    grants.some((g) => {
      if (g.metadata.namespace !== toNs) return false;
      const spec = g.spec as { from: { group: string; kind: string; namespace: string }[]; to: { group: string; kind: string; name?: string }[] };
      return spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === fromKind && f.namespace === fromNs) && spec.to.some((t) => t.group === toGroup && t.kind === toKind && (!t.name || t.name === name));
    });
  const servicesByName = new Map<string, ServiceInfo>();
  const servicesByHost = new Map<string, ServiceInfo>();
  for (const s of snapshot.services) {
    if (s.source === 'Service') servicesByName.set(`${s.namespace}/${s.name}`, s);
    if (!servicesByHost.has(s.hostname)) servicesByHost.set(s.hostname, s);
  }
  const serviceEntries = new Map(of('ServiceEntry').map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r]));

  const backend: BackendResolver = (route, ref) => {
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    const ns = ref.namespace ?? route.metadata.namespace;
    let service: ServiceInfo | undefined;
    if (group === '' && kind === 'Service') service = servicesByName.get(`${ns}/${ref.name}`);
    else if (group === 'networking.istio.io' && kind === 'Hostname') service = servicesByHost.get(ref.name);
    else if (group === 'networking.istio.io' && kind === 'ServiceEntry') {
      const se = serviceEntries.get(`${ns}/${ref.name}`);
      const host = (se?.spec as { hosts?: string[] } | undefined)?.hosts?.[0];
      service = host ? servicesByHost.get(host) : undefined;
    } else return { reason: 'InvalidKind', message: `backend kind ${group ? `${group}/` : ''}${kind} is not supported` };
    if (ns !== route.metadata.namespace && kind !== 'Hostname' && !granted(route.kind, route.metadata.namespace, group, kind, ns, ref.name)) {
      return { reason: 'RefNotPermitted', message: `a reference to ${kind} ${ns}/${ref.name} needs a ReferenceGrant in namespace ${ns}` };
    }
    if (!service) return { reason: 'BackendNotFound', message: `${kind} ${ns}/${ref.name} does not exist` };
    const port = ref.port ?? (service.ports.length === 1 ? service.ports[0]!.port : undefined);
    if (port === undefined || !service.ports.some((p) => p.port === port)) return { reason: 'BackendNotFound', message: `${kind} ${ns}/${ref.name} has no port ${ref.port ?? '(none given)'}` };
    return { service, port };
  };
  void suffix;

  const status: GatewayApiStatus = { gatewayClasses: [], gateways: [], routes: [] };
  const declaredClasses = new Set<string>();
  for (const c of of('GatewayClass')) {
    declaredClasses.add(c.metadata.name);
    const controllerName = (c.spec as { controllerName: string }).controllerName;
    if (!isOurController(controllerName)) continue;
    const gen = c.metadata.generation;
    status.gatewayClasses.push({
      name: c.metadata.name,
      controllerName,
      builtin: false,
      conditions: [cond('Accepted', true, 'Accepted', 'Handled by Weft', gen), cond('SupportedVersion', true, 'SupportedVersion', 'Gateway API v1.4', gen)],
    });
  }
  for (const [name, controllerName] of Object.entries(BUILTIN_CLASSES)) {
    if (declaredClasses.has(name)) continue;
    status.gatewayClasses.push({ name, controllerName, builtin: true, conditions: [cond('Accepted', true, 'Accepted', 'Built-in class of Weft'), cond('SupportedVersion', true, 'SupportedVersion', 'Gateway API v1.4')] });
  }

  // Gateways and their listeners.
  interface GwState {
    res: ConfigResource;
    spec: GatewaySpec;
    status: GatewayStatus;
    listeners: { l: Listener; ok: boolean; st: ListenerStatus; kinds: Set<string> }[];
    waypoint: boolean;
  }
  const gws = new Map<string, GwState>();
  const secrets = new Map(of('Secret').map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  for (const g of of('Gateway')) {
    if (isIstioGateway(g)) continue;
    const spec = g.spec as GatewaySpec;
    const controller = classController(snapshot, spec.gatewayClassName);
    if (!isOurController(controller)) continue;
    const gen = g.metadata.generation;
    const waypoint = controller === WAYPOINT_CONTROLLER;
    const badAddress = (spec.addresses ?? []).find((a) => a.type !== 'IPAddress');
    const portProtocols = new Map<number, Set<string>>();
    for (const l of spec.listeners) {
      const set = portProtocols.get(l.port) ?? new Set();
      set.add(l.protocol === 'HTTPS' || l.protocol === 'TLS' ? 'tls' : l.protocol);
      portProtocols.set(l.port, set);
    }
    const listeners = spec.listeners.map((l) => {
      const supported = waypoint ? l.protocol === 'HBONE' || HTTP_PROTOCOLS.has(l.protocol) : HTTP_PROTOCOLS.has(l.protocol);
      const conflicted = (portProtocols.get(l.port)?.size ?? 0) > 1;
      const allowedKinds = l.allowedRoutes.kinds;
      const kinds = new Set<string>();
      let invalidKinds = false;
      if (allowedKinds?.length) {
        for (const k of allowedKinds) {
          if (k.group === GATEWAY_GROUP && ROUTE_KINDS.includes(k.kind)) kinds.add(k.kind);
          else invalidKinds = true;
        }
      } else if (HTTP_PROTOCOLS.has(l.protocol)) ROUTE_KINDS.forEach((k) => kinds.add(k));
      let refProblem: { reason: string; message: string } | undefined = invalidKinds ? { reason: 'InvalidRouteKinds', message: 'allowedRoutes.kinds names a kind Weft does not support (HTTPRoute and GRPCRoute are)' } : undefined;
      if (l.protocol === 'HTTPS' && l.tls) {
        for (const c of l.tls.certificateRefs ?? []) {
          const ns = c.namespace ?? g.metadata.namespace;
          if ((c.group ?? '') !== '' || (c.kind ?? 'Secret') !== 'Secret') refProblem ??= { reason: 'InvalidCertificateRef', message: `certificateRef ${c.kind} ${c.name} is not a Secret` };
          else if (ns !== g.metadata.namespace && !granted('Gateway', g.metadata.namespace, '', 'Secret', ns, c.name)) refProblem ??= { reason: 'RefNotPermitted', message: `Secret ${ns}/${c.name} needs a ReferenceGrant in namespace ${ns}` };
          else {
            const s = secrets.get(`${ns}/${c.name}`);
            const data = (s?.extra?.data ?? {}) as Record<string, unknown>;
            if (!s || !data['tls.crt'] || !data['tls.key']) refProblem ??= { reason: 'InvalidCertificateRef', message: `Secret ${ns}/${c.name} does not exist or has no tls.crt and tls.key` };
          }
        }
        if (!l.tls.certificateRefs?.length) refProblem ??= { reason: 'InvalidCertificateRef', message: 'no certificateRefs (TLS options alone are not supported)' };
      }
      const accepted = supported && !conflicted;
      const conditions: Condition[] = [
        supported
          ? conflicted
            ? cond('Accepted', false, 'ProtocolConflict', `port ${l.port} is used with more than one protocol`, gen)
            : cond('Accepted', true, 'Accepted', 'Listener accepted', gen)
          : cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported${waypoint ? '' : ' (HTTP and HTTPS are)'}`, gen),
        refProblem ? cond('ResolvedRefs', false, refProblem.reason, refProblem.message, gen) : cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', gen),
        cond('Conflicted', conflicted, conflicted ? 'ProtocolConflict' : 'NoConflicts', conflicted ? `port ${l.port} is used with more than one protocol` : 'No conflicts', gen),
        accepted && !refProblem ? cond('Programmed', true, 'Programmed', 'Listener programmed', gen) : cond('Programmed', false, 'Invalid', 'Listener is not accepted or has unresolved references', gen),
      ];
      const st: ListenerStatus = { name: l.name, supportedKinds: [...kinds].map((kind) => ({ group: GATEWAY_GROUP, kind })), attachedRoutes: 0, conditions };
      return { l, ok: accepted && !refProblem, st, kinds };
    });
    const okCount = listeners.filter((x) => x.ok).length;
    const accepted = !badAddress && okCount > 0;
    const gwConditions: Condition[] = badAddress
      ? [cond('Accepted', false, 'UnsupportedAddress', `address type ${badAddress.type} is not supported (IPAddress is)`, gen)]
      : okCount === spec.listeners.length
        ? [cond('Accepted', true, 'Accepted', 'Gateway accepted', gen)]
        : [cond('Accepted', okCount > 0, 'ListenersNotValid', `${spec.listeners.length - okCount} of ${spec.listeners.length} listeners are not valid`, gen)];
    gwConditions.push(accepted ? cond('Programmed', true, 'Programmed', 'Gateway programmed', gen) : cond('Programmed', false, 'Invalid', 'Gateway is not accepted', gen));
    const addresses = (spec.addresses ?? []).filter((a) => a.type === 'IPAddress' && a.value).map((a) => ({ type: 'IPAddress', value: a.value! }));
    const gst: GatewayStatus = { namespace: g.metadata.namespace, name: g.metadata.name, gatewayClassName: spec.gatewayClassName, addresses, conditions: gwConditions, listeners: listeners.map((x) => x.st) };
    status.gateways.push(gst);
    gws.set(`${g.metadata.namespace}/${g.metadata.name}`, { res: g, spec, status: gst, listeners, waypoint });
  }

  // Routes.
  const attachments: GatewayAttachment[] = [];
  const mesh: MeshAttachment[] = [];
  const namespaces = snapshot.namespaces;
  for (const kind of ROUTE_KINDS) {
    for (const route of of(kind)) {
      const spec = route.spec as { parentRefs?: { group: string; kind: string; namespace?: string; name: string; sectionName?: string; port?: number }[]; hostnames?: string[]; rules?: { backendRefs?: BackendRef[]; filters?: { requestMirror?: { backendRef: BackendRef } }[] }[] };
      const gen = route.metadata.generation;
      // ResolvedRefs is a property of the route, reported on every parent.
      let refProblem: BackendProblem | undefined;
      for (const rule of spec.rules ?? []) {
        for (const b of rule.backendRefs ?? []) {
          const r = backend(route, b);
          if ('reason' in r && !refProblem) refProblem = r;
        }
      }
      const resolved = refProblem ? cond('ResolvedRefs', false, refProblem.reason, refProblem.message, gen) : cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', gen);
      const rst: RouteStatus = { kind, namespace: route.metadata.namespace, name: route.metadata.name, parents: [] };
      for (const p of spec.parentRefs ?? []) {
        const ns = p.namespace ?? route.metadata.namespace;
        const parentRef = { group: p.group, kind: p.kind, namespace: ns, name: p.name, ...(p.sectionName ? { sectionName: p.sectionName } : {}), ...(p.port ? { port: p.port } : {}) };
        if (p.group === '' && p.kind === 'Service') {
          const svc = servicesByName.get(`${ns}/${p.name}`);
          const okPort = svc && (p.port === undefined || svc.ports.some((x) => x.port === p.port));
          if (svc && okPort) mesh.push({ route, service: svc, ...(p.port !== undefined ? { port: p.port } : {}) });
          rst.parents.push({
            parentRef,
            controllerName: WAYPOINT_CONTROLLER,
            conditions: [svc && okPort ? cond('Accepted', true, 'Accepted', 'Route accepted', gen) : cond('Accepted', false, 'NoMatchingParent', svc ? `Service ${ns}/${p.name} has no port ${p.port}` : `Service ${ns}/${p.name} does not exist`, gen), resolved],
          });
          continue;
        }
        if (p.group !== GATEWAY_GROUP || p.kind !== 'Gateway') continue;
        const gw = gws.get(`${ns}/${p.name}`);
        if (!gw) {
          // A Gateway of another controller is not ours to report on; a missing one is.
          const exists = (of('Gateway') ?? []).some((g) => !isIstioGateway(g) && g.metadata.namespace === ns && g.metadata.name === p.name);
          if (!exists) rst.parents.push({ parentRef, controllerName: WEFT_CONTROLLER, conditions: [cond('Accepted', false, 'NoMatchingParent', `Gateway ${ns}/${p.name} does not exist`, gen), resolved] });
          continue;
        }
        const candidates = gw.listeners.filter((x) => (!p.sectionName || x.l.name === p.sectionName) && (p.port === undefined || x.l.port === p.port));
        let accepted: Condition;
        if (candidates.length === 0) accepted = cond('Accepted', false, 'NoMatchingParent', p.sectionName ? `Gateway ${ns}/${p.name} has no listener ${p.sectionName}${p.port ? ` on port ${p.port}` : ''}` : `Gateway ${ns}/${p.name} has no listener on port ${p.port}`, gen);
        else {
          const allowed = candidates.filter((x) => {
            if (!x.ok || !x.kinds.has(kind)) return false;
            const from = x.l.allowedRoutes.namespaces.from;
            if (from === 'Same') return route.metadata.namespace === ns;
            if (from === 'Selector') return selectorMatches(x.l.allowedRoutes.namespaces.selector, namespaces.get(route.metadata.namespace)?.labels ?? {});
            return true;
          });
          if (allowed.length === 0) accepted = cond('Accepted', false, 'NotAllowedByListeners', `no listener of Gateway ${ns}/${p.name} allows ${kind} from namespace ${route.metadata.namespace}`, gen);
          else {
            let any = false;
            for (const x of allowed) {
              const hostnames = intersectHostnames(x.l.hostname, spec.hostnames);
              if (!hostnames) continue;
              any = true;
              x.st.attachedRoutes++;
              if (!gw.waypoint) attachments.push({ route, gateway: gw.res, listener: x.l, hostnames });
            }
            accepted = any ? cond('Accepted', true, 'Accepted', 'Route accepted', gen) : cond('Accepted', false, 'NoMatchingListenerHostname', `no hostname of the route matches a listener of Gateway ${ns}/${p.name}`, gen);
          }
        }
        rst.parents.push({ parentRef, controllerName: gw.waypoint ? WAYPOINT_CONTROLLER : WEFT_CONTROLLER, conditions: [accepted, resolved] });
      }
      if (rst.parents.length) status.routes.push(rst);
    }
  }
  const gateways = [...gws.values()].filter((g) => !g.waypoint && g.status.conditions[0]!.status === 'True').map((g) => ({ gateway: g.res, listeners: g.listeners.filter((x) => x.ok).map((x) => x.l) }));
  return { status, gateways, attachments, mesh, backend };
}
