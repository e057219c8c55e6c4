/**
 * e2e topology harness: two "nodes" and four "pods" in network namespaces, wired like a small cluster
 * (design.md 8). Everything lives in namespaces named after this run (`weft-e2e-<pid>-<rand>-*`), so
 * parallel runs never collide and no traffic touches the root namespace or the outside world:
 *
 *   <prefix>-net     bridge br0 10.250.0.1/24 (the "network"; run `weft control` here, tcpdump on br0)
 *   <prefix>-node1   eth0 10.250.0.11 on br0; pod CIDR 10.244.1.0/24; pods a, b
 *   <prefix>-node2   eth0 10.250.0.12 on br0; pod CIDR 10.244.2.0/24; pods c, d
 *   <prefix>-pod-X   eth0 10.244.N.1x/32, default route via the node's link address 10.244.N.1
 *                    (ptp-style links, as the ptp/Calico CNI plugins make them; the node side is
 *                    veth-X with 10.244.N.1/32). Services (10.96.0.0/16) go by the default route.
 *
 * No iptables rules are written here: capture is the node proxy's job (`weft cni add`).
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run, type RunResult } from '../../hosts/node/capture/exec.ts';
import { destroySync, E2E_PREFIX, removeNamespaces, stopChildren } from './cleanup.ts';

export { cleanupStale, E2E_PREFIX } from './cleanup.ts';

export const SERVICE_CIDR = '10.96.0.0/16';
export const BRIDGE_ADDRESS = '10.250.0.1';

export type PodName = 'a' | 'b' | 'c' | 'd';

export interface NetnsRef {
  /** `ip netns` name */
  ns: string;
  /** what `weft cni add --netns` takes */
  netnsPath: string;
}

export interface E2eNode extends NetnsRef {
  name: 'node1' | 'node2';
  /** on the bridge */
  ip: string;
  podCidr: string;
  /** the node's address on each of its pods' links */
  linkAddress: string;
  pods: PodName[];
}

export interface E2ePod extends NetnsRef {
  name: PodName;
  ip: string;
  node: E2eNode;
  /** the node-side veth in the node's namespace */
  hostVeth: string;
}

export interface Topology {
  prefix: string;
  net: NetnsRef & { bridge: 'br0'; ip: string };
  nodes: { node1: E2eNode; node2: E2eNode };
  pods: Record<PodName, E2ePod>;
  /** Runs a command in a namespace (bounded; resolves with its exit code and output). */
  exec(where: NetnsRef, cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** Starts a long-running process in a namespace; destroy() stops it. */
  spawn(where: NetnsRef, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Stops every process started here or left inside the namespaces, deletes the namespaces. Idempotent. */
  destroy(): Promise<void>;
}

/** Why e2e tests cannot run here, or undefined when they can (root, `ip netns`, nsenter, iptables). */
export function e2eUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'e2e tests need root (network namespaces, veth, iptables)';
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['nsenter', ['--version']], ['iptables', ['--version']]] as const) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
    if (r.error || r.status !== 0) return `\`${cmd} ${args.join(' ')}\` is not usable here (${r.error?.message ?? r.stderr.trim()}): apt-get install -y iproute2 util-linux iptables`;
  }
  return undefined;
}

/** Runs `ip [-n ns] -batch -` with one command a line; fails with ip's message. */
async function ipBatch(ns: string | undefined, lines: string[]): Promise<void> {
  const r = await run('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { timeoutMs: 10_000, input: `${lines.join('\n')}\n` });
  if (r.code !== 0) throw new Error(`ip${ns ? ` -n ${ns}` : ''} -batch failed: ${r.stderr.trim()}`);
}

export async function createTopology(): Promise<Topology> {
  const prefix = `${E2E_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`;
  const ref = (suffix: string): NetnsRef => ({ ns: `${prefix}-${suffix}`, netnsPath: `/run/netns/${prefix}-${suffix}` });
  const net = { ...ref('net'), bridge: 'br0' as const, ip: BRIDGE_ADDRESS };
  const mkNode = (i: 1 | 2, pods: PodName[]): E2eNode => ({ ...ref(`node${i}`), name: `node${i}`, ip: `10.250.0.1${i}`, podCidr: `10.244.${i}.0/24`, linkAddress: `10.244.${i}.1`, pods });
  const nodes = { node1: mkNode(1, ['a', 'b']), node2: mkNode(2, ['c', 'd']) };
  const pods = {} as Record<PodName, E2ePod>;
  for (const node of Object.values(nodes)) {
    node.pods.forEach((name, i) => (pods[name] = { ...ref(`pod-${name}`), name, ip: `10.244.${node.name.slice(-1)}.${10 + i}`, node, hostVeth: `veth-${name}` }));
  }
  const children = new Set<ChildProcess>();
  const all: NetnsRef[] = [net, nodes.node1, nodes.node2, ...Object.values(pods)];
  let destroyed = false;
  const onExit = () => destroySync(all); // last resort when afterAll never ran
  process.once('exit', onExit);

  const topo: Topology = {
    prefix,
    net,
    nodes,
    pods,
    exec: (where, cmd, args, opts = {}) => run('ip', ['netns', 'exec', where.ns, cmd, ...args], { timeoutMs: opts.timeoutMs ?? 15_000, ...(opts.input === undefined ? {} : { input: opts.input }) }),
    spawn: (where, cmd, args, opts = {}) => {
      const child = spawn('ip', ['netns', 'exec', where.ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      process.off('exit', onExit);
      await stopChildren([...children]);
      await removeNamespaces(all.map((r) => r.ns));
    },
  };

  try {
    // one `ip -batch` per namespace and phase: ~60 ip commands cost ~10 process starts
    await ipBatch(undefined, all.map((r) => `netns add ${r.ns}`));
    const other = (n: E2eNode) => (n.name === 'node1' ? nodes.node2 : nodes.node1);
    await ipBatch(net.ns, [
      'link set lo up',
      'link add br0 type bridge',
      `addr add ${net.ip}/24 dev br0`,
      'link set br0 up',
      ...Object.values(nodes).flatMap((node) => [
        `link add p-${node.name} type veth peer name eth0 netns ${node.ns}`,
        `link set p-${node.name} master br0 up`,
        `route add ${node.podCidr} via ${node.ip} onlink dev br0`,
      ]),
    ]);
    await Promise.all(
      Object.values(nodes).map(async (node) => {
        await ipBatch(node.ns, [
          'link set lo up',
          `addr add ${node.ip}/24 dev eth0`,
          'link set eth0 up',
          `route add ${other(node).podCidr} via ${other(node).ip} dev eth0`,
          ...node.pods.flatMap((name) => [
            `link add ${pods[name].hostVeth} type veth peer name eth0 netns ${pods[name].ns}`,
            `addr add ${node.linkAddress}/32 dev ${pods[name].hostVeth}`,
            `link set ${pods[name].hostVeth} up`,
            `route add ${pods[name].ip}/32 dev ${pods[name].hostVeth} scope link src ${node.linkAddress}`,
          ]),
        ]);
        await sysctl(node, 'net.ipv4.ip_forward=1');
      }),
    );
    await Promise.all(
      Object.values(pods).map((pod) =>
        ipBatch(pod.ns, [
          'link set lo up',
          `addr add ${pod.ip}/32 dev eth0`,
          'link set eth0 up',
          `route add ${pod.node.linkAddress}/32 dev eth0 scope link`,
          `route add default via ${pod.node.linkAddress} dev eth0 src ${pod.ip}`,
        ]),
      ),
    );
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

async function sysctl(where: NetnsRef, setting: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', where.ns, 'sysctl', '-q', '-w', setting], { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`sysctl ${setting} in ${where.ns}: ${r.stderr.trim()}`);
}
