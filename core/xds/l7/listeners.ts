/**
 * Listeners of gateways and waypoints (core/route/README.md): one Listener per bound address and port
 * (`<address>_<port>`), plain HTTP as one filter chain, each HTTPS server or listener as a chain with
 * `server_names` and a DownstreamTlsContext whose certificates come over SDS; waypoints get a Listener
 * `<hostname>:<port>` on the service VIP. Every chain's one filter is the HTTP connection manager
 * (RDS over ADS), its HTTP filters: the authz filters, the WasmPlugin http filters that select the
 * proxy (ECDS over ADS, in filter order), fault and CORS only when a route uses them, the router last.
 */
import { envoy } from '../pb.ts';
import type { FilterChainProto, HttpConnectionManagerProto, ListenerProto } from '../pb.ts';
import { FILTER, L7_TYPE_URL, gatewayListenerName } from './names.ts';
import { PLUGIN_TYPE_URL } from '../type-urls.ts';
import { any, msDuration } from './proto-util.ts';

const ADS_SOURCE = { ads: {}, resourceApiVersion: envoy.config.core.v3.ApiVersion.V3 };
const HCM = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
type HttpFilterList = NonNullable<HttpConnectionManagerProto['httpFilters']>;

export interface FilterUse {
  fault: boolean;
  cors: boolean;
}

/** One gateway server (Istio) or listener (Gateway API) after translation. */
export interface GatewayServer {
  address: string;
  port: number;
  /** Present for HTTPS: SNI names ([] = any) and the SDS secret names. */
  tls?: { serverNames: string[]; secrets: string[] };
  routeConfig: string;
}

/** Limits and timeouts of every HCM (Envoy's and Istio's gateway defaults). */
export const HCM_DEFAULTS = { streamIdleMs: 300_000, requestHeadersMs: 10_000, maxRequestHeadersKb: 60, idleMs: 3_600_000, maxHeadersCount: 100 };

/**
 * The HTTP filter of one WasmPlugin: its config comes over ECDS (Envoy's ExtensionConfigSource on
 * ADS), the TypedExtensionConfig `<ns>.<name>` (core/xds/plugins.ts).
 */
export function pluginHttpFilter(name: string): HttpFilterList[number] {
  return { name, configDiscovery: { configSource: ADS_SOURCE, typeUrls: [PLUGIN_TYPE_URL] } };
}

/**
 * `authz`: the jwt_authn / ext_authz / RBAC filters of the applicable policies (core/xds/l7/authz.ts),
 * first; `plugins`: the WasmPlugin http filters (names, in filter order), after them and before the
 * router (Istio places its Wasm filters between its authz filters and the router).
 */
export function httpConnectionManager(statPrefix: string, routeConfig: string, use: FilterUse, gateway: boolean, authz: HttpFilterList = [], plugins: readonly string[] = []): HttpConnectionManagerProto {
  const filters: HttpConnectionManagerProto['httpFilters'] = [...authz];
  for (const name of plugins) filters.push(pluginHttpFilter(name));
  if (use.fault) filters.push({ name: FILTER.fault, typedConfig: any(L7_TYPE_URL.fault, new Uint8Array(0)) });
  if (use.cors) filters.push({ name: FILTER.cors, typedConfig: any(L7_TYPE_URL.cors, new Uint8Array(0)) });
  filters.push({ name: FILTER.router, typedConfig: any(L7_TYPE_URL.router, new Uint8Array(0)) });
  return {
    statPrefix,
    codecType: HCM.CodecType.AUTO,
    rds: { configSource: ADS_SOURCE, routeConfigName: routeConfig },
    upgradeConfigs: [{ upgradeType: 'websocket' }],
    streamIdleTimeout: msDuration(HCM_DEFAULTS.streamIdleMs),
    requestHeadersTimeout: msDuration(HCM_DEFAULTS.requestHeadersMs),
    maxRequestHeadersKb: { value: HCM_DEFAULTS.maxRequestHeadersKb },
    commonHttpProtocolOptions: { idleTimeout: msDuration(HCM_DEFAULTS.idleMs), maxHeadersCount: { value: HCM_DEFAULTS.maxHeadersCount } },
    useRemoteAddress: { value: gateway },
    httpFilters: filters,
  };
}

function hcmFilter(statPrefix: string, routeConfig: string, use: FilterUse, gateway: boolean, authz?: HttpFilterList, plugins?: readonly string[]): envoy.config.listener.v3.Filter.$Properties {
  return { name: FILTER.hcm, typedConfig: any(L7_TYPE_URL.httpConnectionManager, HCM.encode(httpConnectionManager(statPrefix, routeConfig, use, gateway, authz, plugins)).finish()) };
}

function downstreamTls(secrets: readonly string[]): envoy.config.core.v3.TransportSocket.$Properties {
  const ctx: envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.$Properties = {
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: secrets.map((name) => ({ name, sdsConfig: ADS_SOURCE })),
      alpnProtocols: ['h2', 'http/1.1'],
    },
  };
  return { name: FILTER.tls, typedConfig: any(L7_TYPE_URL.downstreamTls, envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.encode(ctx).finish()) };
}

/**
 * The listeners of a set of gateway servers, one per address and port. Plain servers of one port share
 * one chain (their route configuration `http.<port>`); each HTTPS server is a chain of its own.
 */
export function gatewayListeners(servers: readonly GatewayServer[], useOf: (routeConfig: string) => FilterUse, authz?: HttpFilterList, plugins?: readonly string[]): ListenerProto[] {
  const byAddr = new Map<string, GatewayServer[]>();
  for (const s of servers) {
    const k = gatewayListenerName(s.address, s.port);
    byAddr.set(k, [...(byAddr.get(k) ?? []), s]);
  }
  const out: ListenerProto[] = [];
  for (const [name, list] of [...byAddr].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const chains: FilterChainProto[] = [];
    const seen = new Set<string>();
    for (const s of list) {
      const key = s.tls ? `tls ${s.routeConfig}` : `plain ${s.routeConfig}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const chain: FilterChainProto = { name: s.routeConfig, filters: [hcmFilter(name, s.routeConfig, useOf(s.routeConfig), true, authz, plugins)] };
      if (s.tls) {
        if (s.tls.serverNames.length) chain.filterChainMatch = { serverNames: s.tls.serverNames };
        chain.transportSocket = downstreamTls(s.tls.secrets);
      }
      chains.push(chain);
    }
    // The plain chain (no match) goes last, so SNI chains are tried first.
    chains.sort((a, b) => Number(!a.transportSocket) - Number(!b.transportSocket));
    out.push({ name, address: { socketAddress: { address: list[0]!.address, portValue: list[0]!.port } }, filterChains: chains });
  }
  return out;
}

/** A waypoint's listener for one service port: `<hostname>:<port>` on the service VIPs. */
export function waypointListener(hostname: string, port: number, vips: readonly string[], use: FilterUse, authz?: HttpFilterList, plugins?: readonly string[]): ListenerProto {
  const name = `${hostname}:${port}`;
  const l: ListenerProto = {
    name,
    address: { socketAddress: { address: vips[0]!, portValue: port } },
    filterChains: [{ name, filters: [hcmFilter(name, name, use, false, authz, plugins)] }],
  };
  if (vips.length > 1) l.additionalAddresses = vips.slice(1).map((a) => ({ address: { socketAddress: { address: a, portValue: port } } }));
  return l;
}
