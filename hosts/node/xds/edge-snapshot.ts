/**
 * An EdgeSnapshot (hosts/edge/config-contract.ts) for one gateway: the config files through the
 * Store and translator as `weft control` runs them, the gateway's ADS view (proxy-views.ts, never
 * Secrets), every type as the REST-JSON xDS endpoint would answer it (rest-views.ts). What
 * `weft edge snapshot` writes for offline edge deploys.
 */
import { analyzeFiles, type ConfigIssue } from '../../../core/config/index.ts';
import type { SourceFile } from '../../../core/ports/index.ts';
import { XdsTranslator, type NodeInfo } from '../../../core/xds/index.ts';
import { GATEWAY_NAME_LABEL, l7ProxyOf } from '../../../core/xds/l7/index.ts';
import type { EdgeSnapshot } from '../../edge/config-contract.ts';
import { ProxyViews } from './proxy-views.ts';
import { restResponses, secretWarnings } from './rest-views.ts';

export interface EdgeSnapshotInput {
  files: readonly SourceFile[];
  meshFile?: SourceFile;
  unreadable?: readonly { path: string; message: string }[];
  gateway: { namespace: string; name: string };
  /** The gateway's labels (Istio Gateways select by them); default: the gateway-name label of `gateway`, so it serves that Gateway only. */
  labels?: Readonly<Record<string, string>>;
  now?: Date;
}

export type EdgeSnapshotResult = { ok: true; snapshot: EdgeSnapshot; issues: ConfigIssue[] } | { ok: false; issues: ConfigIssue[]; message: string };

export function buildEdgeSnapshot(i: EdgeSnapshotInput): EdgeSnapshotResult {
  const analyzed = analyzeFiles(i.files, { ...(i.meshFile ? { meshFile: i.meshFile } : {}), ...(i.unreadable ? { unreadable: [...i.unreadable] } : {}) });
  const res = new XdsTranslator().translate(analyzed.snapshot);
  const issues = [...analyzed.snapshot.issues, ...res.warnings];
  if (analyzed.errors.length > 0) return { ok: false, issues, message: `${analyzed.errors.length} validation error${analyzed.errors.length === 1 ? '' : 's'}: no snapshot written` };
  const { namespace, name } = i.gateway;
  const labels = i.labels && Object.keys(i.labels).length ? { ...i.labels } : { [GATEWAY_NAME_LABEL]: name };
  const node: NodeInfo = { id: `edge~${namespace}~${name}`, cluster: '', metadata: { WEFT_ROLE: 'gateway', NAMESPACE: namespace, NAME: name, LABELS: labels }, userAgent: 'weft-edge-snapshot', clientFeatures: [] };
  const l7Proxy = l7ProxyOf(node)!;
  const served = res.l7?.servedBy(l7Proxy).filter((k) => k.startsWith('k8s/') || k.startsWith('istio/')) ?? [];
  if (served.length === 0) {
    return { ok: false, issues, message: `no Gateway serves gateway ${namespace}/${name} with labels ${JSON.stringify(labels)}: name a Gateway API Gateway (--gateway NS/NAME) or give the labels an Istio Gateway selects (--label k=v)` };
  }
  const view = new ProxyViews().viewFor(res, { node, caller: { kind: 'gateway', name: `${namespace}/${name}` }, l7Proxy }, false);
  issues.push(...secretWarnings(view, { kind: 'gateway', namespace, name }));
  const snapshot: EdgeSnapshot = {
    format: 'weft.edge.snapshot/v1',
    gateway: { namespace, name },
    createdAt: (i.now ?? new Date()).toISOString(),
    responses: restResponses(view, 'gateway'),
  };
  return { ok: true, snapshot, issues };
}
