/**
 * The node proxy DaemonSet (ztunnel's place): one `weft node` per node, on the host network, with the
 * capabilities its capture needs and no others (each justified where it is granted).
 *
 * Identity to the control plane: a join token naming this node (design.md 5), minted at pod start by an
 * init container from the `weft-token-key` Secret and handed to the proxy through a memory-backed
 * emptyDir; the key itself is never mounted into the long-running proxy. What Istio does instead (the
 * pod's projected service-account token, checked with a TokenReview and the pod's node) is not in the
 * control plane yet: see deploy/README.md, "Gaps".
 */
import { CACERTS_SECRET, TOKEN_KEY_SECRET, controlAddress, partOf } from './control-manifests.ts';
import { imageRef, type InstallValues } from './values.ts';

export const NODE_NAME = 'weft-node';

type Obj = Record<string, unknown>;

const TOKEN_DIR = '/run/weft-token';
const ROOT_CERT = '/etc/weft/ca/root-cert.pem';

/** Shell-quoted, for the one `sh -c` line (the token is read from a file, which args cannot do). */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function nodeCommand(v: InstallValues): string {
  const args = [
    'exec weft node',
    `--control ${q(controlAddress(v))}`,
    `--root-cert ${ROOT_CERT}`,
    `--token "$(cat ${TOKEN_DIR}/token)"`,
    '--node-name "$NODE_NAME"',
    `--capture ${v.capture}`,
    // the node's own address: HBONE 15008 for workloads outside pods, SOCKS5/CONNECT, DNS and the
    // admin/stats/ready ports the kubelet probes (host network: the pod IP is the node's)
    '--listen "$HOST_IP"',
    `--trust-domain ${q(v.trustDomain)}`,
    ...(v.logLevel === 'debug' ? ['--verbose'] : []),
  ];
  return args.join(' ');
}

/**
 * Capture (hosts/node/capture/, capture-in-node.md) enters each enrolled pod's network namespace with
 * `nsenter --net=<path>` and writes its nat rules with `iptables-restore`. Nothing else is granted:
 * no privileged mode, no privilege escalation, every other capability dropped.
 */
function captureCapabilities(): string[] {
  return [
    // setns(2) into another pod's network namespace (nsenter --net) requires CAP_SYS_ADMIN
    'SYS_ADMIN',
    // iptables-restore --noflush in the pod's namespace: changing netfilter tables requires CAP_NET_ADMIN
    'NET_ADMIN',
    // iptables-legacy reads and replaces tables through a raw socket (iptables-nft needs only NET_ADMIN;
    // which one a node's pods use is the node's choice, so both must work)
    'NET_RAW',
  ];
}

function daemonSet(v: InstallValues): Obj {
  const labels = partOf(NODE_NAME);
  const capture = v.capture === 'iptables';
  const image = imageRef(v);
  const env = [
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: NODE_NAME, namespace: v.namespace, labels },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: NODE_NAME,
          // the node proxy never calls the API server: everything comes from the control plane over xDS
          automountServiceAccountToken: false,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          // every node, as ztunnel: a node without its proxy drops its pods' mesh traffic
          tolerations: [{ operator: 'Exists' }],
          ...(Object.keys(v.nodeSelector).length ? { nodeSelector: { ...v.nodeSelector } } : {}),
          terminationGracePeriodSeconds: 30,
          // fsGroup: the init container (uid 1337) reads the token key through its group (mode 0440)
          securityContext: { fsGroup: 1337, seccompProfile: { type: 'RuntimeDefault' } },
          initContainers: [
            {
              name: 'join-token',
              image,
              imagePullPolicy: v.imagePullPolicy,
              command: ['/bin/sh', '-c', `weft token create --node "$NODE_NAME" --state /etc/weft/token-key > ${TOKEN_DIR}/token`],
              env: [env[0]],
              securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
              volumeMounts: [
                { name: 'token-key', mountPath: '/etc/weft/token-key', readOnly: true },
                { name: 'token', mountPath: TOKEN_DIR },
              ],
            },
          ],
          containers: [
            {
              name: 'node',
              image,
              imagePullPolicy: v.imagePullPolicy,
              command: ['/bin/sh', '-c', nodeCommand(v)],
              env,
              ports: [
                { name: 'hbone', containerPort: 15008, protocol: 'TCP' },
                { name: 'socks', containerPort: 15080, protocol: 'TCP' },
                { name: 'dns-tcp', containerPort: 15053, protocol: 'TCP' },
                { name: 'dns-udp', containerPort: 15053, protocol: 'UDP' },
                { name: 'admin', containerPort: 15000, protocol: 'TCP' },
                { name: 'http-stats', containerPort: 15020, protocol: 'TCP' },
                { name: 'ready', containerPort: 15021, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 5, timeoutSeconds: 3 },
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              securityContext: {
                // root: Kubernetes puts added capabilities in the effective set of uid 0 only
                runAsUser: 0,
                runAsNonRoot: false,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'], ...(capture ? { add: captureCapabilities() } : {}) },
                // SELinux hosts: the default container type may not open other pods' netns files (istio-cni and ztunnel use spc_t for the same reason)
                ...(capture ? { seLinuxOptions: { type: 'spc_t' } } : {}),
              },
              volumeMounts: [
                { name: 'root-cert', mountPath: '/etc/weft/ca', readOnly: true },
                { name: 'token', mountPath: TOKEN_DIR, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
                // the Unix socket `weft cni` (the chained CNI plugin, run on the host) talks to: /var/run/weft/node.sock
                ...(capture ? [{ name: 'cni-socket', mountPath: '/var/run/weft' }] : []),
                // where the container runtime keeps pod network namespaces (the paths CNI hands over);
                // HostToContainer so namespaces made after the proxy started appear in it
                ...(capture ? [{ name: 'netns', mountPath: '/var/run/netns', mountPropagation: 'HostToContainer', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            // only the root certificate is projected: the CA key in the same Secret never reaches the node
            { name: 'root-cert', secret: { secretName: CACERTS_SECRET, items: [{ key: 'root-cert.pem', path: 'root-cert.pem' }] } },
            { name: 'token-key', secret: { secretName: TOKEN_KEY_SECRET, defaultMode: 0o440, items: [{ key: 'token-key', path: 'token-key' }] } },
            { name: 'token', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
            { name: 'tmp', emptyDir: {} },
            ...(capture
              ? [
                  { name: 'cni-socket', hostPath: { path: '/var/run/weft', type: 'DirectoryOrCreate' } },
                  { name: 'netns', hostPath: { path: '/var/run/netns', type: 'DirectoryOrCreate' } },
                ]
              : []),
          ],
        },
      },
    },
  };
}

export function nodeObjects(v: InstallValues): Obj[] {
  return [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NODE_NAME, namespace: v.namespace, labels: partOf(NODE_NAME) }, automountServiceAccountToken: false }, daemonSet(v)];
}
