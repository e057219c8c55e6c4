/**
 * An EdgeSnapshot polled once from `weft control`'s REST-JSON xDS (`POST /v3/discovery:<type>`,
 * gateway token), for contenders that get their config bundled (workerd in the parity test and the
 * bench). The node carries only the gateway's labels; NAMESPACE/NAME come from the token.
 */
import { REST_XDS_TYPES, type DiscoveryRequestJson, type DiscoveryResponseJson, type EdgeSnapshot, type RestXdsType } from '../../../hosts/edge/config-contract.ts';

const GATEWAY_TYPES: RestXdsType[] = ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs'];

export async function restSnapshot(controlHttp: string, token: string, gateway: { namespace: string; name: string }, labels: Record<string, string>): Promise<EdgeSnapshot> {
  const responses: EdgeSnapshot['responses'] = {};
  for (const type of GATEWAY_TYPES) {
    const body: DiscoveryRequestJson = { node: { id: `edge~${gateway.namespace}~${gateway.name}`, metadata: { LABELS: labels } }, typeUrl: REST_XDS_TYPES[type] };
    const res = await fetch(`${controlHttp}/v3/discovery:${type}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`REST xDS ${type}: ${res.status} ${await res.text()}`);
    responses[type] = (await res.json()) as DiscoveryResponseJson;
  }
  return { format: 'weft.edge.snapshot/v1', gateway, createdAt: new Date().toISOString(), responses };
}
