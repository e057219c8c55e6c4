/**
 * Gateway API Gateways (with their attached HTTPRoutes/GRPCRoutes) and Istio Gateways (with the
 * VirtualServices bound to them) -> per-gateway servers and virtual hosts. The listeners and route
 * configurations of a proxy are assembled from the gateways it serves (translate-l7.ts).
 */
import type { GatewayApiModel } from '../../config/gateway-api-status.ts';
import { intersectHostnames } from '../../config/gateway-api-status.ts';
import type { ConfigResource, MeshSnapshot } from '../../config/snapshot.ts';
import type { GatewaySpec } from '../../config/schema/gateway-api.ts';
import type { IstioGatewaySpec } from '../../config/schema/istio-networking.ts';
import type { VirtualServiceSpec } from '../../config/schema/istio-virtual-service.ts';
import { envoy } from '../pb.ts';
import type { RouteProto } from '../pb.ts';
import type { Backends } from './backends.ts';
import type { FilterUse, GatewayServer } from './listeners.ts';
import { gatewayKey, httpRouteConfigName, httpsRouteConfigName, secretName, type GatewayKey } from './names.ts';
import { grpcRouteRoutes, httpRouteRoutes, sortRanked, type RankedRoute, type Warn } from './routes-gateway-api.ts';
import { virtualServiceRoutes } from './routes-virtual-service.ts';

/** Routes for one hostname of one route configuration, before merging. */
export interface VhostEntry {
  routeConfig: string;
  port: number;
  hostname: string;
  /** Gateway API routes (sorted together per virtual host) or ordered Istio routes. */
  ranked?: RankedRoute[];
  ordered?: RouteProto[];
}

export interface GatewayOut {
  key: GatewayKey;
  servers: GatewayServer[];
  vhosts: VhostEntry[];
  /** Secret names the servers reference that exist and are permitted. */
  secrets: string[];
  uses: Map<string, FilterUse>;
  /** Istio Gateway `spec.selector`, for label-based selection. */
  selector?: Readonly<Record<string, string>>;
}

interface Ctx {
  snapshot: MeshSnapshot;
  backends: Backends;
  warn: Warn;
  secretExists: (ns: string, name: string) => boolean;
}

const useOf = (g: GatewayOut, rc: string): FilterUse => {
  let u = g.uses.get(rc);
  if (!u) g.uses.set(rc, (u = { fault: false, cors: false }));
  return u;
};

/** Gateway API Gateways this controller programs (not waypoints), with their attached routes. */
export function gatewayApiGateways(model: GatewayApiModel, ctx: Ctx): GatewayOut[] {
  const out: GatewayOut[] = [];
  for (const { gateway, listeners } of model.gateways) {
    const { namespace, name } = gateway.metadata;
    const spec = gateway.spec as GatewaySpec;
    const g: GatewayOut = { key: gatewayKey('k8s', namespace, name), servers: [], vhosts: [], secrets: [], uses: new Map() };
    const addresses = (spec.addresses ?? []).filter((a) => a.type === 'IPAddress' && a.value).map((a) => a.value!);
    for (const l of listeners) {
      const tls = l.protocol === 'HTTPS';
      const secrets = tls ? (l.tls?.certificateRefs ?? []).map((c) => secretName(c.namespace ?? namespace, c.name)) : [];
      // One route configuration per bound address (plain HTTP): Gateways on their own addresses share no routes.
      const routeConfigs = new Set<string>();
      for (const address of addresses.length ? addresses : ['0.0.0.0']) {
        const routeConfig = tls ? httpsRouteConfigName(l.port, l.name, name, namespace) : httpRouteConfigName(l.port, address);
        routeConfigs.add(routeConfig);
        g.servers.push({ address, port: l.port, routeConfig, ...(tls ? { tls: { serverNames: l.hostname ? [l.hostname] : [], secrets } } : {}) });
      }
      g.secrets.push(...secrets);
      for (const routeConfig of routeConfigs) useOf(g, routeConfig);
      for (const a of model.attachments) {
        if (a.gateway !== gateway || a.listener !== l) continue;
        const opts = { backends: ctx.backends, warn: ctx.warn, mesh: false, listener: { port: l.port, protocol: l.protocol } };
        const ranked = a.route.kind === 'GRPCRoute' ? grpcRouteRoutes(a.route, opts) : httpRouteRoutes(a.route, opts);
        for (const routeConfig of routeConfigs) for (const hostname of a.hostnames.length ? a.hostnames : ['*']) g.vhosts.push({ routeConfig, port: l.port, hostname, ranked });
      }
    }
    out.push(g);
  }
  return out;
}

/** Istio server hosts `[ns/]host`: the namespace part (`*`, `.`, `~` or a name) says whose VirtualServices may bind. */
function serverHostAllows(serverHost: string, gwNs: string, vsNs: string): string | undefined {
  const [ns, host] = serverHost.includes('/') ? serverHost.split('/') as [string, string] : ['*', serverHost];
  if (ns === '~') return undefined;
  if (ns === '.' && vsNs !== gwNs) return undefined;
  if (ns !== '*' && ns !== '.' && ns !== vsNs) return undefined;
  return host;
}

/** Istio Gateways (selected by labels) with the VirtualServices whose `gateways` name them. */
export function istioGateways(ctx: Ctx): GatewayOut[] {
  const { snapshot, warn } = ctx;
  const vss = snapshot.resources.get('VirtualService') ?? [];
  const secrets = snapshot.resources.get('Secret') ?? [];
  const out: GatewayOut[] = [];
  for (const gw of snapshot.resources.get('Gateway') ?? []) {
    if (!gw.apiVersion.startsWith('networking.istio.io/')) continue;
    const { namespace, name } = gw.metadata;
    const spec = gw.spec as IstioGatewaySpec;
    const ref = `${namespace}/${name}`;
    const g: GatewayOut = { key: gatewayKey('istio', namespace, name), servers: [], vhosts: [], secrets: [], uses: new Map(), selector: spec.selector ?? {} };
    const bound = vss.filter((vs) => ((vs.spec as VirtualServiceSpec).gateways ?? []).some((x) => (x.includes('/') ? x : `${vs.metadata.namespace}/${x}`) === ref));
    (spec.servers ?? []).forEach((s, i) => {
      const at = `spec.servers[${i}]`;
      const proto = s.port.protocol.toUpperCase();
      const address = s.bind ?? '0.0.0.0';
      let tls: GatewayServer['tls'];
      let routeConfig = httpRouteConfigName(s.port.number, s.bind);
      if (proto === 'HTTPS') {
        const mode = s.tls?.mode ?? 'SIMPLE';
        if (mode !== 'SIMPLE') {
          warn(gw, `${at}.tls.mode`, `TLS mode ${mode} is not supported by Weft gateways (SIMPLE is): server left out`);
          return;
        }
        const creds = s.tls?.credentialNames ?? (s.tls?.credentialName ? [s.tls.credentialName] : []);
        if (!creds.length) {
          warn(gw, `${at}.tls`, 'certificates from files (serverCertificate, tlsCertificates) are not supported; use credentialName: server left out');
          return;
        }
        const names = creds.map((c) => {
          const [cns, cname] = c.includes('/') ? (c.split('/') as [string, string]) : [undefined, c];
          // Istio reads the Secret from the gateway's namespace; outside Kubernetes, a Secret of that name anywhere.
          const hit = secrets.find((x) => x.metadata.name === cname && x.metadata.namespace === (cns ?? namespace)) ?? (cns ? undefined : secrets.find((x) => x.metadata.name === cname));
          return secretName(hit?.metadata.namespace ?? cns ?? namespace, cname);
        });
        const sni = s.hosts.map((h) => (h.includes('/') ? h.split('/')[1]! : h)).filter((h) => h !== '*');
        tls = { serverNames: sni, secrets: names };
        g.secrets.push(...names);
        routeConfig = httpsRouteConfigName(s.port.number, s.port.name, name, namespace);
      } else if (!['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'].includes(proto)) {
        warn(gw, `${at}.port.protocol`, `protocol ${proto} is not supported by Weft gateways (HTTP, HTTP2, GRPC and HTTPS are): server left out`);
        return;
      }
      g.servers.push({ address, port: s.port.number, routeConfig, ...(tls ? { tls } : {}) });
      const use = useOf(g, routeConfig);
      if (s.tls?.httpsRedirect) {
        for (const h of s.hosts) {
          const host = h.includes('/') ? h.split('/')[1]! : h;
          g.vhosts.push({ routeConfig, port: s.port.number, hostname: host, ordered: [{ name: `${ref}.https-redirect`, match: { prefix: '/' }, redirect: { schemeRedirect: 'https', responseCode: envoy.config.route.v3.RedirectAction.RedirectResponseCode.MOVED_PERMANENTLY } }] });
        }
        return;
      }
      for (const vs of bound) {
        const vspec = vs.spec as VirtualServiceSpec;
        const hosts = new Set<string>();
        for (const sh of s.hosts) {
          const allowed = serverHostAllows(sh, namespace, vs.metadata.namespace);
          if (!allowed) continue;
          for (const vh of vspec.hosts ?? []) {
            const hit = vh === '*' ? [allowed] : intersectHostnames(allowed === '*' ? undefined : allowed, [vh]);
            for (const x of hit ?? []) hosts.add(x);
          }
        }
        if (!hosts.size) continue;
        const routes = virtualServiceRoutes(vs, { backends: ctx.backends, warn, port: s.port.number, gateway: ref, uses: use });
        for (const hostname of hosts) g.vhosts.push({ routeConfig, port: s.port.number, hostname, ordered: routes });
      }
    });
    out.push(g);
  }
  return out;
}

/** Virtual hosts of one route configuration: entries of one hostname merged (Gateway API routes sorted together). */
export function mergeVirtualHosts(entries: readonly VhostEntry[]): envoy.config.route.v3.VirtualHost.$Properties[] {
  const by = new Map<string, { port: number; ranked: RankedRoute[]; ordered: RouteProto[] }>();
  for (const e of entries) {
    let v = by.get(e.hostname);
    if (!v) by.set(e.hostname, (v = { port: e.port, ranked: [], ordered: [] }));
    if (e.ranked) for (const r of e.ranked) if (!v.ranked.includes(r)) v.ranked.push(r);
    if (e.ordered) for (const r of e.ordered) if (!v.ordered.includes(r)) v.ordered.push(r);
  }
  return [...by]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([hostname, v]) => ({
      name: `${hostname}:${v.port}`,
      // Gateway API: the Host header's port takes no part in matching, so an exact host also gets
      // `host:*` (istiod's gateway domains); a wildcard host keeps `*.suffix:<port>` (one wildcard per domain).
      domains: hostname === '*' ? ['*'] : [hostname, hostname.startsWith('*') ? `${hostname}:${v.port}` : `${hostname}:*`],
      routes: [...sortRanked(v.ranked), ...v.ordered],
    }));
}

export type { ConfigResource };
