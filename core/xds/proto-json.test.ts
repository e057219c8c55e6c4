import { describe, expect, it } from 'vitest';
import { envoy } from './pb.ts';
import { protoToJson } from './proto-json.ts';
import { EMBEDDED_TYPE_URL } from './type-urls.ts';

describe('protoToJson', () => {
  it('decodes known Any values in place, turns Longs into numbers, leaves empty lists out', () => {
    const hcm = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.encode({ statPrefix: 'x', rds: { routeConfigName: 'http.80' } }).finish();
    const bytes = envoy.config.listener.v3.Listener.encode({
      name: '0.0.0.0_80',
      address: { socketAddress: { address: '0.0.0.0', portValue: 80 } },
      filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { typeUrl: EMBEDDED_TYPE_URL.httpConnectionManager, value: hcm } }] }],
    }).finish();
    const json = protoToJson(envoy.config.listener.v3.Listener.decode(bytes)) as any;
    expect(json.name).toBe('0.0.0.0_80');
    expect(json.filterChains[0].filters[0].typedConfig).toMatchObject({ '@type': EMBEDDED_TYPE_URL.httpConnectionManager, rds: { routeConfigName: 'http.80' } });
    const cluster = protoToJson(envoy.config.cluster.v3.Cluster.decode(envoy.config.cluster.v3.Cluster.encode({ name: 'c', connectTimeout: { seconds: 5 } }).finish())) as any;
    expect(cluster.connectTimeout.seconds).toBe(5);
    expect(JSON.stringify(cluster)).not.toContain('"low"');
  });

  it('keeps an unknown Any as base64 with its type', () => {
    expect(protoToJson({ typeUrl: 'type.googleapis.com/x.Y', value: Uint8Array.of(1, 2, 3) })).toEqual({ '@type': 'type.googleapis.com/x.Y', value: 'AQID' });
  });
});
