/**
 * The node proxy's admin `/config_dump` as `weft proxy-config` reads it (shape documented in
 * hosts/node/node-proxy/README.md: core/node's dumpNodeState plus CertificateManager.list()).
 * Reading is lenient: a missing section is an empty list, so an older or partial dump still prints.
 */

/** One certificate as the dump lists it (never a key). */
export interface DumpCertificate {
  identity: string;
  state: string;
  serial?: string;
  issuer?: string;
  /** Milliseconds since the epoch. */
  notBefore?: number;
  notAfter?: number;
  /** Leaf first, root last. */
  chainPems?: string[];
  rootPems?: string[];
  nextAttemptAt?: number;
  lastError?: string;
}

export type JsonObject = Record<string, unknown>;

export interface ConfigDump {
  node?: { name?: string; listen?: string; ports?: Record<string, number> };
  version?: number;
  mesh?: JsonObject;
  workloads: JsonObject[];
  services: JsonObject[];
  policies: JsonObject[];
  certificates: DumpCertificate[];
  /** An L7 proxy's Envoy resources as JSON (gateways and waypoints; absent for node proxies). */
  envoy?: JsonObject;
}

const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** Validates the outer shape; throws with advice when the body is not a config dump at all. */
export function readConfigDump(body: unknown): ConfigDump {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error('the admin endpoint did not return a JSON object: is --admin a weft proxy admin port (15000)?');
  }
  const o = body as JsonObject;
  if (!('workloads' in o) && !('certificates' in o) && !('services' in o) && !('envoy' in o)) {
    throw new Error('the admin /config_dump has no workloads, services or certificates: is this a weft node proxy?');
  }
  return {
    ...(o.node && typeof o.node === 'object' ? { node: o.node as ConfigDump['node'] } : {}),
    ...(typeof o.version === 'number' ? { version: o.version } : {}),
    ...(o.mesh && typeof o.mesh === 'object' ? { mesh: o.mesh as JsonObject } : {}),
    workloads: list(o.workloads),
    services: list(o.services),
    policies: list(o.policies),
    certificates: list<DumpCertificate>(o.certificates).filter((c) => c && typeof c.identity === 'string'),
    ...(o.envoy && typeof o.envoy === 'object' ? { envoy: o.envoy as JsonObject } : {}),
  };
}

