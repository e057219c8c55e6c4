/**
 * Inbound: an HBONE stream (HboneServer on `<listen>:15008` for workloads outside pods, and on each
 * enrolled pod's in-pod 15008) or a plaintext connection captured on an in-pod 15006 ->
 * planInbound (core/node: the workload must be on this node, L4 authorization with the peer's
 * verified SPIFFE id, PeerAuthentication STRICT refusing plaintext) -> dial the workload's target
 * port -> 200 and splice. As ztunnel, the CONNECT is answered only once the workload answered.
 * Telemetry reports as `destination`.
 */
import type { Socket } from 'node:net';
import { planInbound } from '../../../core/node/index.ts';
import type { InboundPlan } from '../../../core/node/index.ts';
import type { PeerInfo } from '../../../core/telemetry/index.ts';
import type { InboundTunnel } from '../hbone/index.ts';
import { splice } from '../servers/index.ts';
import type { NodeProxyInputs } from './inputs.ts';
import { plainIp } from './inputs.ts';
import { dialTcp } from './outbound.ts';
import { ConnectionTelemetry, labelsFor, logRefusal, peerOf } from './telemetry.ts';

export class InboundHandler {
  constructor(private readonly inputs: NodeProxyInputs) {
    this.onTunnel = this.onTunnel.bind(this);
  }

  /** HboneServer's `onTunnel`. */
  onTunnel(t: InboundTunnel): void {
    void this.#tunnel(t).catch((e: Error) => t.refuse(502, e.message));
  }

  async #tunnel(t: InboundTunnel): Promise<void> {
    const state = this.inputs.state.current;
    const peer = t.peerIdentity;
    const fwd = t.forwarded;
    const srcAddr = fwd.for ?? `${plainIp(t.remoteAddress)}:${t.remotePort}`;
    const plan = planInbound(state, { sourceIp: plainIp(t.remoteAddress), destination: t.authority, mtls: true, peerIdentity: peer });
    const b = t.baggage;
    const source: PeerInfo = {
      principal: peer,
      ...(b['k8s.namespace.name'] ? { namespace: b['k8s.namespace.name'] } : {}),
      ...(workloadFromBaggage(b) ? { workload: workloadFromBaggage(b)! } : {}),
      ...(b['service.name'] ? { canonicalService: b['service.name'] } : {}),
      ...(b['service.version'] ? { canonicalRevision: b['service.version'] } : {}),
      ...(b['k8s.cluster.name'] ? { cluster: b['k8s.cluster.name'] } : {}),
    };
    const service = fwd.host ? state.servicesByHostname(fwd.host)[0] : undefined;
    const rec = { via: 'hbone', srcAddr, dstAddr: t.authority, ...authzOf(plan) };
    const labels = labelsFor({ reporter: 'destination', source, destination: peerOf(plan.workload), ...(service ? { service } : {}), security: 'mutual_tls' });
    if (plan.kind === 'deny') {
      logRefusal(this.inputs, labels, rec, plan.code === 'authz-denied' ? 'DENY' : 'NR', plan.reason);
      return t.refuse(plan.code === 'authz-denied' ? 401 : 400, plan.reason);
    }
    let upstream: Socket;
    try {
      upstream = await dialTcp(plan.target);
    } catch (e) {
      logRefusal(this.inputs, labels, rec, 'CONNECT', (e as Error).message);
      return t.refuse(503, `the workload at ${plan.target} did not accept the connection: ${(e as Error).message}`);
    }
    const stream = t.accept();
    this.inputs.tracker.add(upstream);
    const tel = new ConnectionTelemetry(this.inputs, labels, rec);
    splice(stream, upstream, tel.meter, { onSpliceEnd: (end) => tel.end(end) });
  }

  /** A plaintext connection captured on an in-pod 15006; `destination` from originalDst. */
  async handlePlaintext(socket: Socket, destination: string): Promise<void> {
    socket.pause();
    socket.on('error', () => {});
    const state = this.inputs.state.current;
    const srcIp = plainIp(socket);
    const plan = planInbound(state, { sourceIp: srcIp, destination, mtls: false });
    const src = state.workloadByIp(srcIp);
    // a plaintext peer proves nothing: its identity is not reported as a principal
    const source: PeerInfo = src ? { ...peerOf(src), principal: '' } : {};
    const rec = { via: 'inbound-plaintext', srcAddr: `${srcIp}:${socket.remotePort ?? 0}`, dstAddr: destination, ...authzOf(plan) };
    const labels = labelsFor({ reporter: 'destination', source, destination: peerOf(plan.workload), security: 'none' });
    if (plan.kind === 'deny') {
      logRefusal(this.inputs, labels, rec, plan.code === 'authz-denied' ? 'DENY' : 'NR', plan.reason);
      return void socket.resetAndDestroy();
    }
    let upstream: Socket;
    try {
      upstream = await dialTcp(plan.target);
    } catch (e) {
      logRefusal(this.inputs, labels, rec, 'CONNECT', (e as Error).message);
      return void socket.resetAndDestroy();
    }
    this.inputs.tracker.add(socket);
    this.inputs.tracker.add(upstream);
    const tel = new ConnectionTelemetry(this.inputs, labels, rec);
    splice(socket, upstream, tel.meter, { onSpliceEnd: (end) => tel.end(end) });
  }
}

function authzOf(plan: InboundPlan): { authz?: { decision: 'allow' | 'deny'; policy?: string } } {
  const d = plan.decision;
  if (!d) return {};
  return { authz: { decision: d.allowed ? 'allow' : 'deny', ...(d.policy ? { policy: d.policy } : {}) } };
}

function workloadFromBaggage(b: Record<string, string>): string | undefined {
  for (const k of ['deployment', 'cronjob', 'job', 'pod']) if (b[`k8s.${k}.name`]) return b[`k8s.${k}.name`];
  return undefined;
}
