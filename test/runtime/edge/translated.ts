/**
 * The REST-JSON responses the control plane would give the gateway `web/public` (labelled
 * istio=ingressgateway), made in process by core's translator and scoped as the ADS server scopes a
 * gateway's view (core/xds/l7 servedBy + scope), then put in proto3 JSON (core/xds/rest-json.ts):
 * what unit tests of the edge host run on without a control plane process.
 */
import { ConfigStore } from '../../../core/config/index.ts';
import { TYPE_URL, XdsTranslator } from '../../../core/xds/index.ts';
import { resourceToJson } from '../../../core/xds/rest-json.ts';
import { REST_XDS_TYPES, type DiscoveryResponseJson, type RestXdsType } from '../../../hosts/edge/config-contract.ts';
import { GATEWAY, NS } from './cases.ts';

/** The responses a gateway `web/public` labelled istio=ingressgateway would poll, from core's translator. */
export function translatedResponses(yaml: string): Partial<Record<RestXdsType, DiscoveryResponseJson>> {
  const store = new ConfigStore();
  store.sink('test').replaceFiles([{ path: 'edge.yaml', text: yaml }]);
  const xds = new XdsTranslator().translate(store.snapshot);
  const keys = xds.l7!.servedBy({ role: 'gateway', namespace: NS, name: GATEWAY, labels: { istio: 'ingressgateway' } });
  const scoped = xds.l7!.scope(keys);
  const byType: Record<string, { typeUrl: string; name: string; bytes: Uint8Array }[]> = {
    listeners: [...scoped.listeners],
    routes: [...scoped.routes, ...(xds.resources.get(TYPE_URL.route)?.values() ?? [])],
    clusters: [...(xds.resources.get(TYPE_URL.cluster)?.values() ?? [])],
    endpoints: [...(xds.resources.get(TYPE_URL.endpoint)?.values() ?? [])],
    extension_configs: [...scoped.plugins],
  };
  const out: Partial<Record<RestXdsType, DiscoveryResponseJson>> = {};
  for (const [t, list] of Object.entries(byType)) {
    const type = t as RestXdsType;
    out[type] = { versionInfo: xds.version, typeUrl: REST_XDS_TYPES[type], nonce: '1', resources: list.map((r) => resourceToJson(r.typeUrl, r.bytes)) };
  }
  return out;
}

