import { describe, expect, it } from 'vitest';
import { envoy } from '../xds/pb.ts';
import { EMBEDDED_TYPE_URL } from '../xds/type-urls.ts';
import { compileListener, durationToMs, selectChain } from './listener-chains.ts';

const HCM = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
const TLS = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;

function hcmFilter(routeConfigName: string, extra: object = {}) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: { typeUrl: EMBEDDED_TYPE_URL.httpConnectionManager, value: HCM.encode({ statPrefix: routeConfigName, rds: { routeConfigName }, ...extra }).finish() },
  };
}
function tlsSocket(secret: string) {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      value: TLS.encode({ commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: secret }], alpnProtocols: ['h2', 'http/1.1'] } }).finish(),
    },
  };
}
/** Encoded and decoded, as a proxy receives it. */
const roundTrip = (l: object) => envoy.config.listener.v3.Listener.decode(envoy.config.listener.v3.Listener.encode(l).finish());

describe('compileListener', () => {
  it('reads a plain HTTP listener: address, port, the RDS name and the HCM limits', () => {
    const l = compileListener(
      roundTrip({
        name: '0.0.0.0_8080',
        address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } },
        filterChains: [
          {
            filters: [
              hcmFilter('http.8080', {
                streamIdleTimeout: { seconds: 30 },
                requestHeadersTimeout: { seconds: 10, nanos: 500_000_000 },
                maxRequestHeadersKb: { value: 32 },
                commonHttpProtocolOptions: { idleTimeout: { seconds: 3600 }, maxHeadersCount: { value: 50 } },
                upgradeConfigs: [{ upgradeType: 'websocket' }],
                httpFilters: [{ name: 'envoy.filters.http.fault' }, { name: 'envoy.filters.http.router' }],
              }),
            ],
          },
        ],
      }),
    );
    expect(l).toMatchObject({ name: '0.0.0.0_8080', address: '0.0.0.0', port: 8080, tls: false });
    const { httpFilters, ...hcm } = l.chains[0]!.hcm;
    expect(httpFilters!.map((f) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
    expect(hcm).toEqual({
      routeConfigName: 'http.8080',
      streamIdleTimeoutMs: 30_000,
      requestHeadersTimeoutMs: 10_500,
      idleTimeoutMs: 3_600_000,
      maxRequestHeadersKb: 32,
      maxHeadersCount: 50,
      useRemoteAddress: false,
      websocket: true,
      filters: ['envoy.filters.http.fault', 'envoy.filters.http.router'],
    });
  });

  it("uses Envoy's defaults where the HCM is silent", () => {
    const l = compileListener(roundTrip({ name: 'x', address: { socketAddress: { address: '127.0.0.2', portValue: 80 } }, filterChains: [{ filters: [hcmFilter('http.80')] }] }));
    expect(l.chains[0]!.hcm).toMatchObject({ streamIdleTimeoutMs: 300_000, requestHeadersTimeoutMs: 0, maxRequestHeadersKb: 60, maxHeadersCount: 100, websocket: false });
  });

  it('reads TLS chains with SNI names and picks a chain per SNI as Envoy does', () => {
    const l = compileListener(
      roundTrip({
        name: '0.0.0.0_443',
        address: { socketAddress: { address: '0.0.0.0', portValue: 443 } },
        filterChains: [
          { filterChainMatch: { serverNames: ['*.example.com'] }, transportSocket: tlsSocket('kubernetes://default/wild'), filters: [hcmFilter('https.443.wild')] },
          { filterChainMatch: { serverNames: ['Foo.Example.com'] }, transportSocket: tlsSocket('kubernetes://default/foo'), filters: [hcmFilter('https.443.foo')] },
          { filterChainMatch: { serverNames: ['*.a.example.com'] }, transportSocket: tlsSocket('kubernetes://default/a'), filters: [hcmFilter('https.443.a')] },
          { transportSocket: tlsSocket('kubernetes://default/any'), filters: [hcmFilter('https.443.any')] },
        ],
      }),
    );
    expect(l.tls).toBe(true);
    expect(l.chains[0]).toMatchObject({ tlsSecret: 'kubernetes://default/wild', alpn: ['h2', 'http/1.1'] });
    const pick = (sni?: string) => selectChain(l, sni)?.hcm.routeConfigName;
    expect(pick('foo.example.com')).toBe('https.443.foo');
    expect(pick('bar.example.com')).toBe('https.443.wild');
    expect(pick('x.a.example.com')).toBe('https.443.a');
    expect(pick('example.com')).toBe('https.443.any');
    expect(pick(undefined)).toBe('https.443.any');
    expect(pick('other.org')).toBe('https.443.any');
  });

  it('refuses what it cannot serve, naming the listener and the chain', () => {
    const addr = { socketAddress: { address: '0.0.0.0', portValue: 9000 } };
    expect(() => compileListener(roundTrip({ name: 'tcp', address: addr, filterChains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy' }] }] }))).toThrow(/listener tcp: filter_chains\[0\] has no http_connection_manager/);
    expect(() => compileListener(roundTrip({ name: 'inline', address: addr, filterChains: [{ filters: [hcmFilter('', { routeConfig: { name: 'inline' } })] }] }))).toThrow(/over RDS/);
    expect(() => compileListener(roundTrip({ name: 'mixed', address: addr, filterChains: [{ transportSocket: tlsSocket('s'), filters: [hcmFilter('a')] }, { filters: [hcmFilter('b')] }] }))).toThrow(/mixes TLS and plaintext/);
    expect(() => compileListener(roundTrip({ name: 'noaddr', filterChains: [{ filters: [hcmFilter('a')] }] }))).toThrow(/socket_address/);
  });

  it('converts Durations whose seconds are Longs', () => {
    expect(durationToMs({ seconds: { low: 90, high: 0 }, nanos: 250_000_000 })).toBe(90_250);
    expect(durationToMs(undefined)).toBe(0);
  });
});
