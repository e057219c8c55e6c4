/**
 * An edge host's config from a bundled snapshot (`weft edge snapshot`, config-contract.ts
 * EdgeSnapshot): no control plane; the set is handed over once, at start. Runtime-neutral.
 * Also the shape checks of a DiscoveryResponse that the REST poller shares.
 */
import { REST_XDS_TYPES, type DiscoveryResponseJson, type EdgeConfigSource, type EdgeSnapshot, type RestXdsType } from './config-contract.ts';

export const EDGE_SNAPSHOT_FORMAT = 'weft.edge.snapshot/v1';

/** Checks one proto3-JSON DiscoveryResponse of `type`; throws naming `where` and the field. */
export function checkDiscoveryResponse(type: RestXdsType, value: unknown, where: string): DiscoveryResponseJson {
  if (!isObject(value)) throw new Error(`${where}: a DiscoveryResponse must be a JSON object`);
  if (typeof value['versionInfo'] !== 'string') throw new Error(`${where}.versionInfo: expected a string`);
  if (value['typeUrl'] !== REST_XDS_TYPES[type]) throw new Error(`${where}.typeUrl: expected ${REST_XDS_TYPES[type]}, got ${JSON.stringify(value['typeUrl'])}`);
  const resources = value['resources'] ?? [];
  if (!Array.isArray(resources)) throw new Error(`${where}.resources: expected an array`);
  resources.forEach((r, i) => {
    if (!isObject(r) || typeof r['@type'] !== 'string') throw new Error(`${where}.resources[${i}]: expected an object with "@type"`);
    if (r['@type'] !== REST_XDS_TYPES[type]) throw new Error(`${where}.resources[${i}]["@type"]: expected ${REST_XDS_TYPES[type]}, got ${JSON.stringify(r['@type'])}`);
  });
  return { versionInfo: value['versionInfo'], typeUrl: REST_XDS_TYPES[type], nonce: typeof value['nonce'] === 'string' ? value['nonce'] : '', resources: resources as DiscoveryResponseJson['resources'] };
}

/** Validates a snapshot read from JSON; throws a message that says what is wrong and how to make a good one. */
export function checkEdgeSnapshot(value: unknown): EdgeSnapshot {
  const remake = 'make one with `weft edge snapshot --gateway NS/NAME`';
  if (!isObject(value)) throw new Error(`edge snapshot: expected a JSON object (${remake})`);
  if (value['format'] !== EDGE_SNAPSHOT_FORMAT) {
    throw new Error(`edge snapshot: format is ${JSON.stringify(value['format'])}, this edge host reads ${JSON.stringify(EDGE_SNAPSHOT_FORMAT)} (${remake} of the same Weft version)`);
  }
  const gw = value['gateway'];
  if (!isObject(gw) || typeof gw['namespace'] !== 'string' || typeof gw['name'] !== 'string') throw new Error('edge snapshot: gateway must be {namespace, name}');
  const responses = value['responses'];
  if (!isObject(responses)) throw new Error('edge snapshot: responses must be an object of DiscoveryResponses by type');
  const out: EdgeSnapshot['responses'] = {};
  for (const [type, r] of Object.entries(responses)) {
    if (!Object.prototype.hasOwnProperty.call(REST_XDS_TYPES, type)) throw new Error(`edge snapshot: responses.${type}: unknown type (one of ${Object.keys(REST_XDS_TYPES).join(', ')})`);
    out[type as RestXdsType] = checkDiscoveryResponse(type as RestXdsType, r, `edge snapshot: responses.${type}`);
  }
  return { format: EDGE_SNAPSHOT_FORMAT, gateway: { namespace: gw['namespace'], name: gw['name'] }, createdAt: typeof value['createdAt'] === 'string' ? value['createdAt'] : '', responses: out };
}

export class SnapshotSource implements EdgeConfigSource {
  readonly snapshot: EdgeSnapshot;

  /** Throws (see checkEdgeSnapshot) when `snapshot` is not a valid EdgeSnapshot. */
  constructor(snapshot: unknown) {
    this.snapshot = checkEdgeSnapshot(snapshot);
  }

  start(onChange: (responses: EdgeSnapshot['responses']) => void): void {
    onChange({ ...this.snapshot.responses });
  }

  stop(): void {}
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
