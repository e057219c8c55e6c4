/**
 * Outbound: a client connection (captured on an in-pod 15001 and read with SO_ORIGINAL_DST, or
 * asked for over SOCKS5 / HTTP CONNECT on 15080) -> planOutbound (core/node) -> one of the plan's
 * three outcomes, carried out and nothing decided here: an HBONE stream through the pooled
 * HboneClient (the source workload's certificate, the destination's identity expected), plain TCP
 * (passthrough), or a refusal with the plan's reason. Telemetry reports as `source`.
 *
 * Passthrough of a captured connection is dialled from the pod's own network namespace when the
 * caller can make a socket there (`PodSocket`, capture/pod-netns.ts), so the destination sees the
 * pod's IP as ztunnel's in-pod mode does; SOCKS5 / HTTP CONNECT entries have no pod namespace and
 * dial from the node, as does a captured one whose pod socket cannot be made.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { closeSync } from 'node:fs';
import { isIPv6, Socket, connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { hboneHeaders, planOutbound, resolveMeshName } from '../../../core/node/index.ts';
import type { NodeWorkload, OutboundPlan } from '../../../core/node/index.ts';
import type { HboneClient } from '../hbone/index.ts';
import { POOLED_READS, splice } from '../servers/index.ts';
import type { ConnectOutcome, EntryRequest, Refusal } from '../servers/index.ts';
import { endpointKey, failureReason, outboundRefusalFlag, refuseReason, sourceWorkloadFor } from './decisions.ts';
import type { NodeProxyInputs } from './inputs.ts';
import { plainIp } from './inputs.ts';
import { ConnectionTelemetry, labelsFor, logRefusal, peerOf } from './telemetry.ts';

/**
 * Makes an unconnected TCP socket (descriptor) for a passthrough dial in the client pod's namespace,
 * or undefined to dial from the node's.
 */
export type PodSocket = (family: 4 | 6) => number | undefined;

export interface OpenedUpstream {
  stream: Duplex;
  telemetry: ConnectionTelemetry;
}

export class OutboundHandler {
  constructor(
    private readonly inputs: NodeProxyInputs,
    private readonly hbone: HboneClient,
  ) {
    this.onConnect = this.onConnect.bind(this);
  }

  /**
   * The client's workload for SOCKS5 / CONNECT: the local workload at its source address, or, when
   * this node hosts exactly one workload and the client is on loopback, that one (a device).
   */
  sourceFor(ip: string): NodeWorkload | undefined {
    return sourceWorkloadFor(this.inputs.state.current, ip);
  }

  /** ProxyEntryServer's hook (15080). */
  async onConnect(req: EntryRequest): Promise<ConnectOutcome> {
    const srcIp = plainIp(req.sourceAddress);
    let ip = req.host;
    if (req.isName) {
      const mesh = resolveMeshName(this.inputs.state.current, { name: req.host, clientIp: srcIp });
      const found = mesh?.addresses[0] ?? (await lookup(req.host).then((r) => r.address, () => undefined));
      if (!found) return { refuse: 'unreachable', message: `${req.host} is neither a mesh name nor resolvable here` };
      ip = found;
    }
    const source = this.sourceFor(srcIp);
    const up = await this.open({ sourceIp: srcIp, srcAddr: `${srcIp}:${req.sourcePort}`, destination: fmt(ip, req.port), via: req.protocol, ...(source ? { sourceWorkload: source } : {}) });
    if ('refuse' in up) return up;
    const t = up.telemetry;
    return { stream: up.stream, counts: t.meter, onClose: (end) => t.end(end) };
  }

  /**
   * A connection captured on an in-pod 15001; `destination` from originalDst; `podSocket` makes the
   * passthrough dial's socket in the pod's namespace (absent: dial from the node).
   */
  async handleCaptured(socket: Socket, podIp: string, destination: string, podSocket?: PodSocket): Promise<void> {
    socket.pause();
    socket.on('error', () => {});
    this.inputs.tracker.add(socket);
    // an IPv6 connection is logged with the pod's own v6 address; the workload is found by its v4 IP
    const v6 = socket.remoteAddress?.includes(':') && socket.remoteAddress !== '::1' && !socket.remoteAddress.startsWith('::ffff:');
    const srcAddr = v6 ? `[${socket.remoteAddress}]:${socket.remotePort ?? 0}` : `${podIp}:${socket.remotePort ?? 0}`;
    const up = await this.open({ sourceIp: podIp, srcAddr, destination, via: 'outbound', ...(podSocket ? { podSocket } : {}) }).catch((e: Error) => ({ refuse: 'unreachable' as const, message: e.message }));
    if ('refuse' in up) return void socket.resetAndDestroy();
    const t = up.telemetry;
    splice(socket, up.stream, t.meter, { onSpliceEnd: (end) => t.end(end) });
  }

  /** Plans and opens the upstream side; a refusal is counted and logged here. */
  async open(o: { sourceIp: string; srcAddr: string; destination: string; via: string; sourceWorkload?: NodeWorkload; podSocket?: PodSocket }): Promise<OpenedUpstream | Refusal> {
    const { inputs } = this;
    const plan = planOutbound(inputs.state.current, { sourceIp: o.sourceIp, destination: o.destination, ...(o.sourceWorkload ? { sourceWorkload: o.sourceWorkload } : {}) }, { balancer: inputs.balancer });
    const rec = { via: o.via, srcAddr: o.srcAddr, dstAddr: o.destination };
    if (plan.kind === 'deny') {
      logRefusal(inputs, labelsFor({ reporter: 'source', source: peerOf(o.sourceWorkload ?? inputs.state.current.workloadByIp(o.sourceIp)), security: 'unknown' }), rec, outboundRefusalFlag(plan.code), plan.reason);
      return { refuse: refuseReason(plan.code), message: plan.reason };
    }
    const labels = labelsFor({
      reporter: 'source',
      source: peerOf(plan.source),
      destination: peerOf(plan.workload),
      ...(plan.service ? { service: plan.service } : {}),
      security: plan.kind === 'hbone' ? 'mutual_tls' : 'none',
    });
    try {
      if (plan.kind === 'hbone') {
        const stream = await this.#tunnel(plan, o.srcAddr);
        this.#track(stream, endpointKey(plan));
        return { stream, telemetry: new ConnectionTelemetry(inputs, labels, { ...rec, dstAddr: plan.tunnel, hboneAddr: plan.target }) };
      }
      const socket = await dialTcp(plan.destination, undefined, o.podSocket);
      this.#track(socket, endpointKey(plan));
      return { stream: socket, telemetry: new ConnectionTelemetry(inputs, labels, { ...rec, dstAddr: plan.destination }) };
    } catch (e) {
      const err = e as Error;
      logRefusal(inputs, labels, rec, 'CONNECT', err.message);
      return { refuse: failureReason(err), message: err.message };
    }
  }

  /**
   * A successful upstream: tracked for the drain, and counted open against its endpoint in the
   * balancer until the stream closes. The upstream stream's 'close' is the one end every path
   * reaches: the splice's end (it closes both streams before telling its owner), and also a
   * client that left while we dialled (the entry server then destroys the stream unspliced).
   */
  #track(stream: Duplex, endpoint: string | undefined): void {
    this.inputs.tracker.add(stream);
    if (endpoint === undefined) return;
    const balancer = this.inputs.balancer;
    balancer.opened(endpoint);
    stream.once('close', () => balancer.closed(endpoint));
  }

  async #tunnel(plan: Extract<OutboundPlan, { kind: 'hbone' }>, client: string): Promise<Duplex> {
    const [ip, port] = splitHostPort(plan.tunnel);
    const h = hboneHeaders(plan, client);
    const t = await this.hbone.connect({
      sourceIdentity: plan.sourceIdentity,
      destination: { ip, port },
      expectedIdentities: [plan.expectedIdentity],
      authority: plan.target,
      headers: { forwarded: h.forwarded, ...(h.baggage ? { baggage: h.baggage } : {}), traceparent: traceparent() },
    });
    return t.stream;
  }
}

/**
 * A connected TCP socket to `address`. With `from`, the socket it makes (in a pod's namespace) is
 * wrapped and connected by Node (a TCP descriptor opened unconnected accepts connect() like its own);
 * without one, or when it makes none, the socket is the node namespace's.
 */
export function dialTcp(address: string, timeoutMs = 10_000, from?: PodSocket): Promise<Socket> {
  const [host, port] = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const pod = from && podSideSocket(from, isIPv6(host) ? 6 : 4);
    const s = pod ? pod.connect({ host, port }) : tcpConnect({ host, port, allowHalfOpen: true, noDelay: true, onread: POOLED_READS });
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connecting to ${address} timed out`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function podSideSocket(from: PodSocket, family: 4 | 6): Socket | undefined {
  const fd = from(family);
  if (fd === undefined) return undefined;
  try {
    return new Socket({ fd, allowHalfOpen: true, noDelay: true, onread: POOLED_READS });
  } catch {
    closeSync(fd); // not a TCP descriptor after all: dial from the node
    return undefined;
  }
}

export function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  const host = a.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(a.slice(i + 1))];
}

function fmt(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function traceparent(): string {
  const b = randomBytes(24).toString('hex');
  return `00-${b.slice(0, 32)}-${b.slice(32, 48)}-01`;
}
