/**
 * A waypoint in Kubernetes: the Gateway of class `istio-waypoint` that `weft waypoint apply` writes
 * (hosts/node/waypoint-cli/config-edit.ts, the same object), plus what istiod would deploy for it and
 * Weft's control plane does not yet: the waypoint's ServiceAccount (its identity), a Deployment running
 * `weft waypoint`, and the Service node proxies reach it through (15008, selected by the Gateway's name
 * label, as Istio's).
 *
 * Its join token and the mesh root come from a Secret `<name>-weft-token` in the waypoint's namespace
 * (keys `token`, `root-cert.pem`), made once with `weft token create --waypoint NS/NAME`: a Secret of
 * the control plane's namespace cannot be mounted here (deploy/README.md).
 */
import { waypointGateway, GATEWAY_NAME_LABEL, USE_WAYPOINT_LABEL } from '../waypoint-cli/config-edit.ts';
import { controlAddress } from './control-manifests.ts';
import { imageRef, type InstallValues } from './values.ts';

type Obj = Record<string, unknown>;

export const waypointTokenSecret = (name: string): string => `${name}-weft-token`;

export function waypointObjects(v: InstallValues): Obj[] {
  const { namespace, name } = v.waypoint;
  // its own traffic must not be sent to itself by a namespace-wide use-waypoint label, nor captured
  const labels = { [GATEWAY_NAME_LABEL]: name, [USE_WAYPOINT_LABEL]: 'none', 'app.kubernetes.io/part-of': 'weft' };
  const podLabels = { [GATEWAY_NAME_LABEL]: name, 'istio.io/dataplane-mode': 'none' };
  const secret = waypointTokenSecret(name);
  return [
    waypointGateway(namespace, name, v.waypoint.for) as Obj,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        selector: { matchLabels: { [GATEWAY_NAME_LABEL]: name } },
        template: {
          metadata: { labels: podLabels },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            ...(Object.keys(v.nodeSelector).length ? { nodeSelector: { ...v.nodeSelector } } : {}),
            securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, fsGroup: 1337, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'waypoint',
                image: imageRef(v),
                imagePullPolicy: v.imagePullPolicy,
                args: [
                  'waypoint',
                  '--control', controlAddress(v),
                  '--root-cert', '/etc/weft/ca/root-cert.pem',
                  // $(VAR): expanded by the kubelet from env, so the token never sits in the manifest
                  '--token', '$(WEFT_TOKEN)',
                  '--namespace', namespace,
                  '--name', name,
                  '--listen', '0.0.0.0',
                  '--trust-domain', v.trustDomain,
                  ...(v.logLevel === 'debug' ? ['--verbose'] : []),
                ],
                env: [{ name: 'WEFT_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'token' } } }],
                ports: [
                  { name: 'hbone', containerPort: 15008, protocol: 'TCP' },
                  { name: 'admin', containerPort: 15000, protocol: 'TCP' },
                  { name: 'http-stats', containerPort: 15020, protocol: 'TCP' },
                  { name: 'ready', containerPort: 15021, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 5 },
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'root-cert', mountPath: '/etc/weft/ca', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'root-cert', secret: { secretName: secret, items: [{ key: 'root-cert.pem', path: 'root-cert.pem' }] } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: { selector: { [GATEWAY_NAME_LABEL]: name }, ports: [{ name: 'mesh', port: 15008, targetPort: 15008, protocol: 'TCP' }] },
    },
  ];
}
