/**
 * References between resources. A reference to something that does not exist is a warning, never a
 * rejection (design.md 4): Gateway API reports it as a condition (ResolvedRefs=False, BackendNotFound,
 * RefNotPermitted), and the route still applies to its other backends.
 */
import type { ConfigResource, ServiceInfo } from './snapshot.ts';
import type { PathSegment } from './field-path.ts';
import { isIstioGateway } from './kinds.ts';
import { GATEWAY_GROUP } from './schema/gateway-api.ts';
import type { BuildContext } from './build-context.ts';

/** GatewayClasses that exist without being declared (design.md 4). */
export const BUILTIN_GATEWAY_CLASSES = ['weft', 'istio', 'istio-waypoint'] as const;
const INFERENCE_GROUPS = ['inference.networking.k8s.io', 'inference.networking.x-k8s.io'];

type Obj = Record<string, unknown>;
interface Ref {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  sectionName?: string;
}

export function checkReferences(ctx: BuildContext, services: readonly ServiceInfo[]): void {
  const byName = new Map<string, Map<string, ConfigResource[]>>();
  const named = (kind: string, ns: string, name: string): readonly ConfigResource[] => {
    let index = byName.get(kind);
    if (!index) {
      index = new Map();
      for (const r of ctx.of(kind)) {
        const k = `${r.metadata.namespace}/${r.metadata.name}`;
        index.set(k, [...(index.get(k) ?? []), r]);
      }
      byName.set(kind, index);
    }
    return index.get(`${ns}/${name}`) ?? [];
  };
  const has = (kind: string, ns: string, name: string) => named(kind, ns, name).length > 0;
  const k8sGateway = (r: ConfigResource) => !isIstioGateway(r);
  const hostnames = new Set(services.map((s) => s.hostname));

  /** ReferenceGrant in `toNs` letting `fromKind` in `fromNs` point at `toKind/name`. */
  const granted = (fromGroup: string, fromKind: string, fromNs: string, toGroup: string, toKind: string, toNs: string, name: string) =>
    ctx.of('ReferenceGrant').some((g) => {
      if (g.metadata.namespace !== toNs) return false;
      const spec = g.spec as { from: { group: string; kind: string; namespace: string }[]; to: { group: string; kind: string; name?: string }[] };
      return (
        spec.from.some((f) => f.group === fromGroup && f.kind === fromKind && f.namespace === fromNs) &&
        spec.to.some((t) => t.group === toGroup && t.kind === toKind && (!t.name || t.name === name))
      );
    });

  const checkBackend = (route: ConfigResource, ref: Ref, path: PathSegment[]) => {
    const ns = ref.namespace ?? route.metadata.namespace;
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    let exists: boolean | undefined;
    if (group === '' && kind === 'Service') {
      exists = has('Service', ns, ref.name);
      if (exists && ref.port !== undefined) {
        const svc = named('Service', ns, ref.name)[0]!;
        const ports = ((svc.spec as { ports?: { port: number }[] }).ports ?? []).map((p) => p.port);
        if (!ports.includes(ref.port)) ctx.warn(route, [...path, 'port'], `BackendNotFound: Service ${ns}/${ref.name} has no port ${ref.port}`);
      }
    } else if (group === 'networking.istio.io' && kind === 'ServiceEntry') exists = has('ServiceEntry', ns, ref.name);
    else if (group === 'networking.istio.io' && kind === 'Hostname') exists = hostnames.has(ref.name);
    else if (INFERENCE_GROUPS.includes(group) && kind === 'InferencePool') exists = has('InferencePool', ns, ref.name);
    if (exists === undefined) ctx.warn(route, path, `InvalidKind: backend kind ${group ? `${group}/` : ''}${kind} is not supported`);
    else if (!exists) ctx.warn(route, path, `BackendNotFound: ${kind} ${ns}/${ref.name} does not exist`);
    if (ns !== route.metadata.namespace && !granted(GATEWAY_GROUP, route.kind, route.metadata.namespace, group, kind, ns, ref.name)) {
      ctx.warn(route, [...path, 'namespace'], `RefNotPermitted: a reference to ${kind} ${ns}/${ref.name} needs a ReferenceGrant in namespace ${ns}`);
    }
  };

  for (const kind of ['HTTPRoute', 'GRPCRoute']) {
    for (const route of ctx.of(kind)) {
      const spec = route.spec as { parentRefs?: Ref[]; rules?: { backendRefs?: (Ref & { filters?: Obj[] })[]; filters?: Obj[] }[] };
      (spec.parentRefs ?? []).forEach((p, i) => {
        const ns = p.namespace ?? route.metadata.namespace;
        if (p.group === GATEWAY_GROUP && p.kind === 'Gateway') {
          const gw = named('Gateway', ns, p.name).find(k8sGateway);
          if (!gw) ctx.warn(route, ['spec', 'parentRefs', i], `NoMatchingParent: Gateway ${ns}/${p.name} does not exist`);
          else if (p.sectionName && !(gw.spec as { listeners: { name: string }[] }).listeners.some((l) => l.name === p.sectionName)) {
            ctx.warn(route, ['spec', 'parentRefs', i, 'sectionName'], `NoMatchingParent: Gateway ${ns}/${p.name} has no listener ${p.sectionName}`);
          }
        } else if ((p.group ?? '') === '' && p.kind === 'Service') {
          if (!has('Service', ns, p.name)) ctx.warn(route, ['spec', 'parentRefs', i], `NoMatchingParent: Service ${ns}/${p.name} does not exist`);
        }
      });
      (spec.rules ?? []).forEach((rule, i) => {
        const mirror = (filters: Obj[] | undefined, at: PathSegment[]) =>
          (filters ?? []).forEach((f, k) => {
            const m = f.requestMirror as { backendRef: Ref } | undefined;
            if (m) checkBackend(route, m.backendRef, [...at, 'filters', k, 'requestMirror', 'backendRef']);
          });
        mirror(rule.filters, ['spec', 'rules', i]);
        (rule.backendRefs ?? []).forEach((b, j) => {
          checkBackend(route, b, ['spec', 'rules', i, 'backendRefs', j]);
          mirror(b.filters, ['spec', 'rules', i, 'backendRefs', j]);
        });
      });
    }
  }

  const classes = new Set<string>([...BUILTIN_GATEWAY_CLASSES, ...ctx.of('GatewayClass').map((c) => c.metadata.name)]);
  for (const gw of ctx.of('Gateway')) {
    if (isIstioGateway(gw)) {
      const servers = (gw.spec as { servers?: { tls?: { credentialName?: string } }[] }).servers ?? [];
      // Istio reads the Secret from the gateway workload's namespace, which a Gateway resource does not
      // name: a Secret of that name in any namespace is taken as the one meant.
      servers.forEach((s, i) => {
        const cred = s.tls?.credentialName?.split('/').pop();
        if (cred && !ctx.of('Secret').some((x) => x.metadata.name === cred)) ctx.warn(gw, ['spec', 'servers', i, 'tls', 'credentialName'], `Secret ${cred} does not exist`);
      });
      continue;
    }
    const spec = gw.spec as { gatewayClassName: string; listeners: { tls?: { certificateRefs?: Ref[] } }[] };
    if (!classes.has(spec.gatewayClassName)) ctx.warn(gw, ['spec', 'gatewayClassName'], `GatewayClass ${spec.gatewayClassName} does not exist`);
    spec.listeners.forEach((l, i) =>
      (l.tls?.certificateRefs ?? []).forEach((c, j) => {
        const ns = c.namespace ?? gw.metadata.namespace;
        const path = ['spec', 'listeners', i, 'tls', 'certificateRefs', j];
        if ((c.group ?? '') !== '' || (c.kind ?? 'Secret') !== 'Secret') ctx.warn(gw, path, `InvalidCertificateRef: only Secrets are supported`);
        else if (!has('Secret', ns, c.name)) ctx.warn(gw, path, `InvalidCertificateRef: Secret ${ns}/${c.name} does not exist`);
        else if (ns !== gw.metadata.namespace && !granted(GATEWAY_GROUP, 'Gateway', gw.metadata.namespace, '', 'Secret', ns, c.name)) {
          ctx.warn(gw, [...path, 'namespace'], `RefNotPermitted: a reference to Secret ${ns}/${c.name} needs a ReferenceGrant in namespace ${ns}`);
        }
      }),
    );
  }

  const resolveHost = (host: string, ns: string) => (host.includes('.') ? host : `${host}.${ns}.svc.${ctx.mesh.domainSuffix}`);
  const subsetsOf = (host: string) =>
    ctx.of('DestinationRule').flatMap((dr) => {
      const spec = dr.spec as { host: string; subsets?: { name: string }[] };
      return resolveHost(spec.host, dr.metadata.namespace) === host ? (spec.subsets ?? []).map((s) => s.name) : [];
    });
  for (const vs of ctx.of('VirtualService')) {
    const ns = vs.metadata.namespace;
    const spec = vs.spec as { gateways?: string[]; http?: Obj[]; tls?: Obj[]; tcp?: Obj[] };
    (spec.gateways ?? []).forEach((g, i) => {
      if (g === 'mesh') return;
      const [gns, gname] = g.includes('/') ? g.split('/') : [ns, g];
      if (!named('Gateway', gns!, gname!).some(isIstioGateway)) {
        ctx.warn(vs, ['spec', 'gateways', i], `Gateway ${gns}/${gname} does not exist`);
      }
    });
    const checkDest = (d: { host: string; subset?: string } | undefined, path: PathSegment[]) => {
      if (!d || d.host.includes('*')) return;
      const host = resolveHost(d.host, ns);
      if (!hostnames.has(host)) ctx.warn(vs, [...path, 'host'], `host ${d.host} does not match any Service or ServiceEntry`);
      else if (d.subset && !subsetsOf(host).includes(d.subset)) ctx.warn(vs, [...path, 'subset'], `subset ${d.subset} is not defined by any DestinationRule for ${host}`);
    };
    for (const section of ['http', 'tls', 'tcp'] as const) {
      (spec[section] ?? []).forEach((r, i) => {
        ((r.route as { destination: { host: string; subset?: string } }[] | undefined) ?? []).forEach((rd, j) =>
          checkDest(rd.destination, ['spec', section, i, 'route', j, 'destination']),
        );
        checkDest(r.mirror as { host: string } | undefined, ['spec', section, i, 'mirror']);
      });
    }
  }
  for (const dr of ctx.of('DestinationRule')) {
    const host = (dr.spec as { host: string }).host;
    if (!host.includes('*') && !hostnames.has(resolveHost(host, dr.metadata.namespace))) {
      ctx.warn(dr, ['spec', 'host'], `host ${host} does not match any Service or ServiceEntry`);
    }
  }

  for (const kind of ['AuthorizationPolicy', 'RequestAuthentication', 'WasmPlugin']) {
    for (const pol of ctx.of(kind)) {
      const spec = pol.spec as { targetRef?: Ref; targetRefs?: Ref[] };
      const refs: [Ref, PathSegment[]][] = [
        ...(spec.targetRef ? [[spec.targetRef, ['spec', 'targetRef']] as [Ref, PathSegment[]]] : []),
        ...(spec.targetRefs ?? []).map((r, i) => [r, ['spec', 'targetRefs', i]] as [Ref, PathSegment[]]),
      ];
      for (const [r, path] of refs) {
        const ns = pol.metadata.namespace;
        const g = r.group ?? '';
        let exists: boolean | undefined;
        if (g === GATEWAY_GROUP && r.kind === 'Gateway') exists = named('Gateway', ns, r.name).some(k8sGateway);
        else if (g === GATEWAY_GROUP && r.kind === 'GatewayClass') exists = classes.has(r.name);
        else if (g === '' && r.kind === 'Service') exists = has('Service', ns, r.name);
        else if (g === 'networking.istio.io' && r.kind === 'ServiceEntry') exists = has('ServiceEntry', ns, r.name);
        if (exists === false) ctx.warn(pol, path, `${r.kind} ${ns}/${r.name} does not exist`);
      }
    }
  }

  for (const pool of ctx.of('InferencePool')) {
    const epp = (pool.spec as { endpointPickerRef: Ref }).endpointPickerRef;
    if ((epp.group ?? '') === '' && (epp.kind ?? 'Service') === 'Service' && !has('Service', pool.metadata.namespace, epp.name)) {
      ctx.warn(pool, ['spec', 'endpointPickerRef'], `Service ${pool.metadata.namespace}/${epp.name} (the endpoint picker) does not exist`);
    }
  }
  for (const obj of ctx.of('InferenceObjective')) {
    const ref = (obj.spec as { poolRef: Ref }).poolRef;
    if (!has('InferencePool', obj.metadata.namespace, ref.name)) ctx.warn(obj, ['spec', 'poolRef'], `InferencePool ${obj.metadata.namespace}/${ref.name} does not exist`);
  }
}
