/**
 * An Envoy Listener (as decoded from LDS) -> what an L7 proxy binds and how it picks a filter chain
 * per connection (core/route/README.md, "Listener"): the address and port, whether it terminates
 * TLS, and per chain the SNI names it answers, the SDS secret it presents, the route configuration
 * its HTTP connection manager reads and the HCM's limits. Pure: the host binds sockets and makes TLS
 * contexts from the secrets.
 */
import { envoy } from '../xds/pb.ts';
import type { ListenerProto } from '../xds/pb.ts';
import { EMBEDDED_TYPE_URL } from '../xds/type-urls.ts';

const HCM_TYPE = EMBEDDED_TYPE_URL.httpConnectionManager;
const TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

/** The HTTP connection manager settings the L7 engine honours; times in ms, 0 = none. */
export interface HcmSettings {
  routeConfigName: string;
  streamIdleTimeoutMs: number;
  requestHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
  useRemoteAddress: boolean;
  websocket: boolean;
  /** http_filters names in order (router last). */
  filters: readonly string[];
  /** http_filters with their typed_config, undecoded (each filter's own compiler reads it: core/policy/l7-filters.ts). */
  httpFilters?: readonly HttpFilterConfig[];
}

export interface HttpFilterConfig {
  readonly name: string;
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface FilterChain {
  /** SNI names (exact or `*.suffix`); empty = any. */
  serverNames: readonly string[];
  /** SDS secret presented (TLS chains). */
  tlsSecret?: string;
  alpn: readonly string[];
  hcm: HcmSettings;
}

export interface CompiledListener {
  name: string;
  /** As written; `0.0.0.0` / `::` mean "the proxy's --listen address". */
  address: string;
  port: number;
  tls: boolean;
  chains: readonly FilterChain[];
}

interface DurationLike {
  seconds?: number | { low: number; high: number } | null;
  nanos?: number | null;
}

/** google.protobuf.Duration (seconds may be a Long) -> milliseconds. */
export function durationToMs(d: DurationLike | null | undefined): number {
  if (!d) return 0;
  const s = d.seconds;
  const secs = typeof s === 'number' ? s : s ? s.high * 2 ** 32 + (s.low >>> 0) : 0;
  return secs * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

/** Envoy's defaults where the HCM leaves a field unset (stream idle 5 min, headers 60 KiB / 100). */
const DEFAULTS = { streamIdleTimeoutMs: 300_000, maxRequestHeadersKb: 60, maxHeadersCount: 100 };

export function compileListener(l: ListenerProto): CompiledListener {
  const sa = l.address?.socketAddress;
  if (!sa?.address || !sa.portValue) throw new Error(`listener ${l.name}: address.socket_address with address and port_value is required`);
  const chains: FilterChain[] = [];
  for (const [i, fc] of (l.filterChains ?? []).entries()) {
    const hcmAny = fc.filters?.find((f) => f.typedConfig?.typeUrl === HCM_TYPE)?.typedConfig;
    if (!hcmAny?.value) throw new Error(`listener ${l.name}: filter_chains[${i}] has no http_connection_manager (only HTTP listeners are served)`);
    const hcm = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.decode(hcmAny.value);
    const routeConfigName = hcm.rds?.routeConfigName;
    if (!routeConfigName) throw new Error(`listener ${l.name}: filter_chains[${i}]: the http_connection_manager must take its routes over RDS`);
    const chain: FilterChain = {
      serverNames: (fc.filterChainMatch?.serverNames ?? []).map((n) => n.toLowerCase()),
      alpn: [],
      hcm: {
        routeConfigName,
        streamIdleTimeoutMs: hcm.streamIdleTimeout ? durationToMs(hcm.streamIdleTimeout) : DEFAULTS.streamIdleTimeoutMs,
        requestHeadersTimeoutMs: durationToMs(hcm.requestHeadersTimeout),
        idleTimeoutMs: durationToMs(hcm.commonHttpProtocolOptions?.idleTimeout),
        maxRequestHeadersKb: hcm.maxRequestHeadersKb?.value || DEFAULTS.maxRequestHeadersKb,
        maxHeadersCount: hcm.commonHttpProtocolOptions?.maxHeadersCount?.value || DEFAULTS.maxHeadersCount,
        useRemoteAddress: !!hcm.useRemoteAddress?.value,
        websocket: (hcm.upgradeConfigs ?? []).some((u) => u.upgradeType?.toLowerCase() === 'websocket' && u.enabled?.value !== false),
        filters: (hcm.httpFilters ?? []).map((f) => f.name ?? ''),
        httpFilters: (hcm.httpFilters ?? []).map((f) => ({ name: f.name ?? '', typeUrl: f.typedConfig?.typeUrl ?? '', value: f.typedConfig?.value ?? new Uint8Array(0) })),
      },
    };
    const ts = fc.transportSocket?.typedConfig;
    if (ts?.typeUrl === TLS_TYPE && ts.value) {
      const tls = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.decode(ts.value);
      const secret = tls.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name;
      if (!secret) throw new Error(`listener ${l.name}: filter_chains[${i}]: the TLS context names no SDS secret`);
      chain.tlsSecret = secret;
      chain.alpn = tls.commonTlsContext?.alpnProtocols ?? [];
    } else if (ts) {
      throw new Error(`listener ${l.name}: filter_chains[${i}]: transport socket ${ts.typeUrl} is not supported (DownstreamTlsContext only)`);
    }
    chains.push(chain);
  }
  if (chains.length === 0) throw new Error(`listener ${l.name}: no filter chains`);
  const tls = chains.some((c) => c.tlsSecret);
  if (tls && chains.some((c) => !c.tlsSecret)) throw new Error(`listener ${l.name}: mixes TLS and plaintext filter chains on one port`);
  return { name: l.name ?? `${sa.address}_${sa.portValue}`, address: sa.address, port: sa.portValue, tls, chains };
}

/**
 * The chain for a connection with this SNI, as Envoy orders server_names: an exact name, then the
 * longest matching `*.suffix` wildcard, then a chain with no server_names.
 */
export function selectChain(listener: CompiledListener, sni: string | undefined): FilterChain | undefined {
  const name = sni?.toLowerCase();
  let wildcard: FilterChain | undefined;
  let wildcardLen = -1;
  let fallback: FilterChain | undefined;
  for (const c of listener.chains) {
    if (c.serverNames.length === 0) {
      fallback ??= c;
      continue;
    }
    if (!name) continue;
    for (const n of c.serverNames) {
      if (n === name) return c;
      if (n.startsWith('*.') && name.endsWith(n.slice(1)) && name.length > n.length - 1 && n.length > wildcardLen) {
        wildcard = c;
        wildcardLen = n.length;
      }
    }
  }
  return wildcard ?? fallback;
}
