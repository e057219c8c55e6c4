/**
 * Capture wiring (only when `--capture iptables` or a `--socket` is given; loaded lazily so a
 * node proxy without capture never loads the SO_ORIGINAL_DST addon): the CNI socket feeds
 * Enrolment, Enrolment drives PodCapture, and PodCapture's in-pod connections go to the handlers:
 * 15001 -> outbound (original destination), 15006 -> plaintext inbound, 15008 -> the HBONE server,
 * and with DNS capture (`--dns-capture`, on by default) 15053 UDP and TCP -> the node's DNS proxy
 * logic (mesh names answered, the rest forwarded from the node's namespace, where nothing recaptures it).
 * A connection that reached 15001 or 15006 without a redirect (its original destination is the
 * listener itself) is refused: following it would loop.
 */
import type { Socket } from 'node:net';
import type { NodeProxy } from './node-proxy.ts';
import { Enrolment } from './enrolment.ts';
import { plainIp } from './inputs.ts';

export async function startCapture(proxy: NodeProxy) {
  const { PodCapture, originalDstString } = await import('../capture/index.ts');
  const { CniServer, DEFAULT_CNI_SOCKET } = await import('../cni/index.ts');
  const { config } = proxy;
  // passthrough dialled from the pod's own namespace (capture/pod-netns.ts)
  const podNetns = new (await import('../capture/pod-netns.ts')).PodNetnsSockets((level, m) => config.log(level, m));
  const dst = (socket: Socket): string | undefined => {
    try {
      const d = originalDstString(socket);
      const self = `${plainIp(socket.localAddress)}:${socket.localPort}`;
      return d === self ? undefined : d;
    } catch (e) {
      config.log('warn', `no original destination for ${socket.remoteAddress}:${socket.remotePort}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const dns = config.dnsCapture !== false ? proxy.dnsServer : undefined;
  const capture = new PodCapture({
    rules: config.capture === 'iptables',
    dns: dns !== undefined,
    log: (level, message) => config.log(level, message),
    ...(dns ? { onDnsSocket: (udp: import('node:dgram').Socket) => dns.serveUdp(udp) } : {}),
    onConnection: (kind, socket, pod) => {
      socket.on('error', () => {});
      if (kind === 'hbone') return proxy.hboneServer.handleConnection(socket);
      if (kind === 'dns') return dns ? dns.serveTcp(socket) : socket.destroy();
      const d = dst(socket);
      if (!d) return void socket.resetAndDestroy();
      if (kind === 'outbound') void proxy.outbound.handleCaptured(socket, pod.podIp, d, (family) => podNetns.socket(pod, family));
      else void proxy.inbound.handlePlaintext(socket, d);
    },
  });
  const enrolment = new Enrolment(proxy.inputs, capture);
  const cni = new CniServer({
    socketPath: config.socket ?? DEFAULT_CNI_SOCKET,
    onAdd: (pod, netns) => enrolment.onAdd(pod, netns),
    onDel: (pod) => enrolment.onDel(pod),
  });
  await cni.start();
  return { capture, cni, enrolment };
}
