/**
 * The control plane in Kubernetes: its Namespace, ServiceAccount, the ClusterRole it reads the cluster
 * with (list/watch of what design.md 4 says Weft reads, status write-back for Gateway API kinds), the
 * mesh settings ConfigMap, the Deployment running `weft control --kubernetes`, and the Service for its
 * three ports (design.md 1: 15010 plaintext xDS, 15012 xDS + CA over TLS, 15014 HTTP).
 *
 * The CA and the join-token key come from Secrets the operator creates once (deploy/README.md): `cacerts`
 * (Istio's name and file layout, from `weft ca root`) and `weft-token-key`. A self-signed CA in an
 * emptyDir would change on every restart and differ between replicas, and every proxy's root would go
 * stale; hence no Secret, no start (the pods wait in ContainerCreating with the Secret's name in events).
 */
import { CRDS } from './crd-table.ts';
import { imageRef, type InstallValues } from './values.ts';

export const CONTROL_NAME = 'weft-control';
export const CACERTS_SECRET = 'cacerts';
export const TOKEN_KEY_SECRET = 'weft-token-key';
export const MESH_CONFIGMAP = 'weft-mesh';

type Obj = Record<string, unknown>;

export const partOf = (component: string): Record<string, string> => ({ 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': 'weft' });

export function namespaceObject(v: InstallValues): Obj {
  // the control plane and node proxies are not themselves in the mesh
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: v.namespace, labels: { ...partOf('weft'), 'istio.io/dataplane-mode': 'none' } } };
}

/** What the control plane reads: design.md 4's core kinds and every CRD kind, list and watch only. */
function clusterRole(): Obj {
  const groups = new Map<string, Set<string>>();
  for (const c of CRDS) groups.set(c.group, (groups.get(c.group) ?? new Set()).add(c.plural));
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: CONTROL_NAME, labels: partOf(CONTROL_NAME) },
    rules: [
      // Secrets: Gateway TLS certificates (the source lists type=kubernetes.io/tls only; RBAC cannot filter by type).
      // ConfigMaps: only Istio's mesh settings istio-system/istio are read (hosts/node/config/kube-resources.ts),
      // but a Role in istio-system would make the install fail where that namespace does not exist.
      { apiGroups: [''], resources: ['namespaces', 'services', 'pods', 'serviceaccounts', 'secrets', 'configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ...[...groups].map(([g, plurals]) => ({ apiGroups: [g], resources: [...plurals].sort(), verbs: ['get', 'list', 'watch'] })),
      // Gateway API status write-back (design.md 4: Accepted, ResolvedRefs, Programmed conditions)
      {
        apiGroups: ['gateway.networking.k8s.io'],
        resources: CRDS.filter((c) => c.group === 'gateway.networking.k8s.io' && c.status).map((c) => `${c.plural}/status`),
        verbs: ['get', 'update', 'patch'],
      },
    ],
  };
}

function meshConfigMap(v: InstallValues): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: MESH_CONFIGMAP, namespace: v.namespace, labels: partOf(CONTROL_NAME) },
    // a bare MeshConfig with Istio's field names (weft control --mesh FILE)
    data: { 'mesh.yaml': `trustDomain: ${JSON.stringify(v.trustDomain)}\n` },
  };
}

function deployment(v: InstallValues): Obj {
  const labels = partOf(CONTROL_NAME);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROL_NAME, namespace: v.namespace, labels },
    spec: {
      replicas: v.controlReplicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: CONTROL_NAME,
          ...(Object.keys(v.nodeSelector).length ? { nodeSelector: { ...v.nodeSelector } } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, fsGroup: 1337, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'control',
              image: imageRef(v),
              imagePullPolicy: v.imagePullPolicy,
              args: [
                'control',
                '--kubernetes',
                '--mesh', '/etc/weft/mesh/mesh.yaml',
                '--cacerts', '/etc/cacerts',
                '--state', '/var/lib/weft',
                '--listen', '0.0.0.0',
                // 15010 serves no certificates and no Secrets (design.md 1); in a cluster it is for
                // proxyless gRPC clients and tools, as istiod's
                '--xds-listen', '0.0.0.0',
              ],
              ports: [
                { name: 'grpc-xds', containerPort: 15010, protocol: 'TCP' },
                { name: 'tls-xds', containerPort: 15012, protocol: 'TCP' },
                { name: 'http-monitoring', containerPort: 15014, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: 15014 }, periodSeconds: 3, timeoutSeconds: 5 },
              livenessProbe: { tcpSocket: { port: 15014 }, initialDelaySeconds: 10, periodSeconds: 10 },
              resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '512Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'cacerts', mountPath: '/etc/cacerts', readOnly: true },
                { name: 'mesh', mountPath: '/etc/weft/mesh', readOnly: true },
                // the state directory stays writable (plugin cache); only the token key comes from the Secret
                { name: 'state', mountPath: '/var/lib/weft' },
                { name: 'token-key', mountPath: '/var/lib/weft/token-key', subPath: 'token-key', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            // 0440: readable through fsGroup by the non-root user, by no one else
            { name: 'cacerts', secret: { secretName: CACERTS_SECRET, defaultMode: 0o440 } },
            { name: 'token-key', secret: { secretName: TOKEN_KEY_SECRET, defaultMode: 0o440 } },
            { name: 'mesh', configMap: { name: MESH_CONFIGMAP } },
            { name: 'state', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}

function service(v: InstallValues): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: CONTROL_NAME, namespace: v.namespace, labels: partOf(CONTROL_NAME) },
    spec: {
      selector: partOf(CONTROL_NAME),
      ports: [
        { name: 'grpc-xds', port: 15010, targetPort: 15010, protocol: 'TCP' },
        { name: 'tls-xds', port: 15012, targetPort: 15012, protocol: 'TCP' },
        { name: 'http-monitoring', port: 15014, targetPort: 15014, protocol: 'TCP' },
      ],
    },
  };
}

export function controlObjects(v: InstallValues): Obj[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CONTROL_NAME, namespace: v.namespace, labels: partOf(CONTROL_NAME) } },
    clusterRole(),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: CONTROL_NAME, labels: partOf(CONTROL_NAME) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROL_NAME },
      subjects: [{ kind: 'ServiceAccount', name: CONTROL_NAME, namespace: v.namespace }],
    },
    meshConfigMap(v),
    deployment(v),
    service(v),
  ];
}

/** `weft-control.<ns>.svc:15012`, what node proxies and waypoints dial. */
export const controlAddress = (v: InstallValues): string => `${CONTROL_NAME}.${v.namespace}.svc:15012`;
