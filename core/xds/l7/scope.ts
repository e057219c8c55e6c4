/**
 * Which gateways an L7 proxy serves, from its xDS node metadata (core/route/README.md "Who receives
 * what"): `WEFT_ROLE` gateway | waypoint, `NAMESPACE`, `NAME`, `LABELS`.
 */
import type { NodeInfo } from '../codec.ts';

export interface L7Proxy {
  role: 'gateway' | 'waypoint';
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** The L7 identity of a node, or undefined for node proxies and proxyless clients (they keep the mesh-wide set). */
export function l7ProxyOf(node: NodeInfo | undefined): L7Proxy | undefined {
  const md = node?.metadata ?? {};
  const role = md['WEFT_ROLE'];
  if (role !== 'gateway' && role !== 'waypoint') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const labels: Record<string, string> = {};
  const raw = md['LABELS'];
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[k] = v;
  return { role, namespace: str(md['NAMESPACE']), name: str(md['NAME']), labels };
}
