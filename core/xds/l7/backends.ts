/**
 * Backend references -> cluster names. Gateway API backendRefs resolve as ResolvedRefs reports them
 * (core/config/gateway-api-status.ts): one that does not resolve becomes INVALID_BACKEND. Istio
 * destinations (`host`, `subset`, `port`) resolve against services and ServiceEntries by hostname,
 * short names taken in the referring resource's namespace, as istiod does.
 */
import type { BackendResolver, BackendRef } from '../../config/gateway-api-status.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo } from '../../config/snapshot.ts';
import { INVALID_BACKEND, subsetClusterName } from './names.ts';

export interface Backends {
  /** A Gateway API backendRef -> cluster name, or INVALID_BACKEND. */
  gatewayApi(route: ConfigResource, ref: BackendRef): string;
  /** An Istio Destination -> cluster name, or INVALID_BACKEND (with why, for a warning). */
  istio(ns: string, dest: { host: string; subset?: string; port?: { number?: number } }, defaultPort?: number): { cluster: string; problem?: string };
  /** Services by hostname (first declared wins). */
  byHost(host: string): ServiceInfo | undefined;
  /** `reviews` in namespace `default` -> `reviews.default.svc.<suffix>`; a FQDN stays. */
  resolveHost(host: string, ns: string): string;
}

export function makeBackends(snapshot: MeshSnapshot, resolver: BackendResolver): Backends {
  const byHost = new Map<string, ServiceInfo>();
  for (const s of snapshot.services) if (!byHost.has(s.hostname)) byHost.set(s.hostname, s);
  const suffix = snapshot.mesh.domainSuffix;
  const resolveHost = (host: string, ns: string) => (host.includes('.') ? host : `${host}.${ns}.svc.${suffix}`);
  return {
    byHost: (h) => byHost.get(h),
    resolveHost,
    gatewayApi(route, ref) {
      const r = resolver(route, ref);
      return 'reason' in r ? INVALID_BACKEND : subsetClusterName(r.service.hostname, r.port);
    },
    istio(ns, dest, defaultPort) {
      const host = resolveHost(dest.host, ns);
      const svc = byHost.get(host);
      if (!svc) return { cluster: INVALID_BACKEND, problem: `host ${dest.host} does not match any Service or ServiceEntry` };
      let port = dest.port?.number;
      if (port === undefined) port = svc.ports.length === 1 ? svc.ports[0]!.port : svc.ports.some((p) => p.port === defaultPort) ? defaultPort : undefined;
      if (port === undefined) return { cluster: INVALID_BACKEND, problem: `destination ${dest.host} has several ports: set destination.port` };
      if (!svc.ports.some((p) => p.port === port)) return { cluster: INVALID_BACKEND, problem: `${host} has no port ${port}` };
      return { cluster: subsetClusterName(host, port, dest.subset ?? '') };
    },
  };
}
