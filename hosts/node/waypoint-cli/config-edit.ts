/**
 * `weft waypoint apply|list|delete` outside Kubernetes (design.md 1): the config directory is the
 * API server, so these edit its YAML files the way istioctl edits the cluster. Edits go through the
 * `yaml` library's document model so a user's comments, order and formatting outside the touched
 * fields stay as they were; a file whose documents do not parse is left alone and reported.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, parseAllDocuments, stringify, type Document } from 'yaml';
import { LABELS, WAYPOINT_CLASS } from '../../../core/config/index.ts';
import { displayPath, listConfigFiles } from '../config/read-config-dir.ts';

export { WAYPOINT_CLASS };
export const USE_WAYPOINT_LABEL = LABELS.useWaypoint;
export const WAYPOINT_FOR_LABEL = LABELS.waypointFor;
export type WaypointFor = 'service' | 'workload' | 'all' | 'none';

interface LoadedFile {
  path: string;
  display: string;
  docs: Document.Parsed[];
}

export interface FoundResource {
  file: LoadedFile;
  index: number;
  doc: Document.Parsed;
  kind: string;
  namespace: string;
  name: string;
}

export class ConfigDirectory {
  private constructor(
    readonly dir: string,
    readonly files: LoadedFile[],
    /** Files skipped because they do not parse: never rewritten. */
    readonly broken: string[],
  ) {}

  static async open(dir: string): Promise<ConfigDirectory> {
    const files: LoadedFile[] = [];
    const broken: string[] = [];
    for (const path of await listConfigFiles(dir)) {
      const docs = parseAllDocuments(await readFile(path, 'utf8'));
      const display = displayPath(dir, path);
      if (!Array.isArray(docs) || docs.some((d) => d.errors.length)) broken.push(display);
      else files.push({ path, display, docs });
    }
    return new ConfigDirectory(dir, files, broken);
  }

  *resources(): Generator<FoundResource> {
    for (const file of this.files)
      for (const [index, doc] of file.docs.entries()) {
        const kind = doc.get('kind');
        const name = doc.getIn(['metadata', 'name']);
        if (typeof kind !== 'string' || typeof name !== 'string') continue;
        const ns = doc.getIn(['metadata', 'namespace']);
        yield { file, index, doc, kind, name, namespace: typeof ns === 'string' ? ns : kind === 'Namespace' ? '' : 'default' };
      }
  }

  waypoints(namespace?: string): FoundResource[] {
    return [...this.resources()].filter(
      (r) => r.kind === 'Gateway' && String(r.doc.get('apiVersion')).startsWith('gateway.networking.k8s.io/') && r.doc.getIn(['spec', 'gatewayClassName']) === WAYPOINT_CLASS && (namespace === undefined || r.namespace === namespace),
    );
  }

  find(kind: string, namespace: string, name: string): FoundResource | undefined {
    for (const r of this.resources()) if (r.kind === kind && r.name === name && (kind === 'Namespace' || r.namespace === namespace)) return r;
    return undefined;
  }

  /** Writes a file's documents back (one `---` between documents), or removes it when none is left. */
  async save(file: LoadedFile): Promise<void> {
    if (file.docs.length === 0) return rm(file.path, { force: true });
    await writeFile(file.path, file.docs.map((d) => d.toString()).join('---\n'));
  }

  async writeNew(name: string, resource: object | object[]): Promise<string> {
    const path = join(this.dir, name);
    await writeFile(path, Array.isArray(resource) ? resource.map((r) => stringify(r)).join('---\n') : stringify(resource));
    return path;
  }
}

/** The Gateway `istioctl waypoint apply` makes: class istio-waypoint, one HBONE listener on 15008. */
export function waypointGateway(namespace: string, name: string, forWhat: WaypointFor): object {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace, labels: { [WAYPOINT_FOR_LABEL]: forWhat } },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  };
}

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/**
 * Where a waypoint runs outside Kubernetes (what Istio's Deployment and Service for the Gateway are in a
 * cluster): a WorkloadEntry at the `weft waypoint --listen` address with the waypoint's service account
 * (its identity, which node proxies expect), and a Service `NAME` selecting it, through which the control
 * plane's workload API names the waypoint (core/xds/workload-api.ts). Both say `istio.io/use-waypoint:
 * none`, so a namespace-wide waypoint label does not send the waypoint's own traffic to itself.
 */
export function waypointAddressResources(namespace: string, name: string, address: string): object[] {
  const labels = { [GATEWAY_NAME_LABEL]: name, [USE_WAYPOINT_LABEL]: 'none' };
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: { selector: { [GATEWAY_NAME_LABEL]: name }, ports: [{ name: 'mesh', port: 15008, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name, namespace, labels },
      spec: { address, serviceAccount: name, labels },
    },
  ];
}

/** Sets (or with `value` undefined removes) a label in a parsed document, keeping the rest as written. */
export function setLabel(doc: Document.Parsed, key: string, value: string | undefined): void {
  if (value === undefined) {
    if (doc.hasIn(['metadata', 'labels', key])) doc.deleteIn(['metadata', 'labels', key]);
    return;
  }
  if (!isMap(doc.getIn(['metadata', 'labels'], true))) doc.setIn(['metadata', 'labels'], doc.createNode({}));
  doc.setIn(['metadata', 'labels', key], value);
}
