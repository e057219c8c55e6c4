/**
 * Inbound: an HBONE stream (HboneServer on `<listen>:15008` for workloads outside pods, and on each
 * enrolled pod's in-pod 15008) or a plaintext connection captured on an in-pod 15006 ->
 * planInbound (core/node: the workload must be on this node, L4 authorization with the peer's
 * verified SPIFFE id, PeerAuthentication STRICT refusing plaintext) -> dial the workload's target
 * port -> 200 and splice. As ztunnel, the CONNECT is answered only once the workload answered.
 * Telemetry reports as `destination`.
 *
 * Source address: over HBONE the TCP peer is the client's node proxy, so authorization (`ipBlocks`,
 * `notIpBlocks`, `when source.ip`) and the access log use the client in the CONNECT's
 * `forwarded: for=` (ztunnel's get_original_src_from_fwded), falling back to the peer's address
 * when the header names none.
 *
 * Every admitted connection is recorded in the tracker with the request it was admitted with, so a
 * policy change can re-evaluate it and close it when it is now denied (policy-enforcer.ts).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { inboundSource, planInbound } from '../../../core/node/index.ts';
import type { InboundPlan, InboundRequest, NodeState } from '../../../core/node/index.ts';
import type { PeerInfo } from '../../../core/telemetry/index.ts';
import type { InboundTunnel } from '../hbone/index.ts';
import { resetStream, splice } from '../servers/index.ts';
import type { SpliceEnd, SpliceOwner } from '../servers/index.ts';
import { INBOUND_DIAL_FAILED, inboundRefusal } from './decisions.ts';
import type { LiveInbound, NodeProxyInputs } from './inputs.ts';
import { plainIp } from './inputs.ts';
import { dialTcp } from './outbound.ts';
import { ConnectionTelemetry, labelsFor, logRefusal, peerOf } from './telemetry.ts';
import type { ConnectionRecord } from './telemetry.ts';
import type { TcpLabels } from '../../../core/telemetry/index.ts';
import type { NodeWorkload } from '../../../core/node/index.ts';
import { checkL4Policies, PLUGIN_DENY_STATUS, splitHostPort, type PluginDeny } from './plugin-policy.ts';

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
    const src = inboundSource(t.headers.forwarded, plainIp(t.remoteAddress), t.remotePort);
    const req: InboundRequest = { sourceIp: src.ip, destination: t.authority, mtls: true, peerIdentity: peer };
    const plan = planInbound(state, req);
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
    const rec = { via: 'hbone', srcAddr: `${fmtIp(src.ip)}:${src.port}`, dstAddr: t.authority, ...authzOf(plan) };
    const labels = labelsFor({ reporter: 'destination', source, destination: peerOf(plan.workload), ...(service ? { service } : {}), security: 'mutual_tls' });
    if (plan.kind === 'deny') {
      const r = inboundRefusal(plan);
      logRefusal(this.inputs, labels, rec, r.flag, plan.reason);
      return t.refuse(r.status, plan.reason);
    }
    const denied = this.#plugins(plan.workload, plan.target, peer ?? '', src.ip, src.port);
    if (denied !== undefined) {
      logRefusal(this.inputs, labels, { ...rec, authz: { decision: 'deny', policy: `plugin/${denied.plugin}` } }, 'DENY', `plugin ${denied.plugin} denied: ${denied.reason}`);
      return t.refuse(PLUGIN_DENY_STATUS, `denied by plugin ${denied.plugin}: ${denied.reason}`);
    }
    let upstream: Socket;
    try {
      upstream = await dialTcp(plan.target);
    } catch (e) {
      logRefusal(this.inputs, labels, rec, INBOUND_DIAL_FAILED.flag, (e as Error).message);
      return t.refuse(INBOUND_DIAL_FAILED.status, `the workload at ${plan.target} did not accept the connection: ${(e as Error).message}`);
    }
    const late = this.#recheck(state, req);
    if (late) {
      upstream.resetAndDestroy();
      const r = inboundRefusal(late);
      logRefusal(this.inputs, labels, { ...rec, ...authzOf(late) }, r.flag, late.reason);
      return t.refuse(r.status, late.reason);
    }
    const stream = t.accept();
    this.inputs.tracker.add(upstream);
    this.#splice(stream, upstream, plan.workload.uid, req, labels, rec);
  }

  /** A plaintext connection captured on an in-pod 15006; `destination` from originalDst. */
  async handlePlaintext(socket: Socket, destination: string): Promise<void> {
    socket.pause();
    socket.on('error', () => {});
    const state = this.inputs.state.current;
    const srcIp = plainIp(socket);
    const req: InboundRequest = { sourceIp: srcIp, destination, mtls: false };
    const plan = planInbound(state, req);
    const src = state.workloadByIp(srcIp);
    // a plaintext peer proves nothing: its identity is not reported as a principal
    const source: PeerInfo = src ? { ...peerOf(src), principal: '' } : {};
    const rec = { via: 'inbound-plaintext', srcAddr: `${fmtIp(srcIp)}:${socket.remotePort ?? 0}`, dstAddr: destination, ...authzOf(plan) };
    const labels = labelsFor({ reporter: 'destination', source, destination: peerOf(plan.workload), security: 'none' });
    if (plan.kind === 'deny') {
      logRefusal(this.inputs, labels, rec, inboundRefusal(plan).flag, plan.reason);
      return void socket.resetAndDestroy();
    }
    const denied = this.#plugins(plan.workload, plan.target, '', srcIp, socket.remotePort ?? 0);
    if (denied !== undefined) {
      logRefusal(this.inputs, labels, { ...rec, authz: { decision: 'deny', policy: `plugin/${denied.plugin}` } }, 'DENY', `plugin ${denied.plugin} denied: ${denied.reason}`);
      return void socket.resetAndDestroy();
    }
    let upstream: Socket;
    try {
      upstream = await dialTcp(plan.target);
    } catch (e) {
      logRefusal(this.inputs, labels, rec, INBOUND_DIAL_FAILED.flag, (e as Error).message);
      return void socket.resetAndDestroy();
    }
    const late = this.#recheck(state, req);
    if (late) {
      upstream.resetAndDestroy();
      logRefusal(this.inputs, labels, { ...rec, ...authzOf(late) }, inboundRefusal(late).flag, late.reason);
      return void socket.resetAndDestroy();
    }
    this.inputs.tracker.add(socket);
    this.inputs.tracker.add(upstream);
    this.#splice(socket, upstream, plan.workload.uid, req, labels, rec);
  }

  /** The l4-policy plugins after the mesh's authorization allowed (plugin-policy.ts); a deny is counted. */
  #plugins(workload: NodeWorkload, target: string, sourcePrincipal: string, sourceIp: string, sourcePort: number): PluginDeny | undefined {
    const p = this.inputs.plugins;
    const set = p?.plugins();
    if (set === undefined || set.l4Policies.length === 0) return undefined;
    const dst = splitHostPort(target);
    const denied = checkL4Policies(set, workload.uid, { sourcePrincipal, destinationPrincipal: workload.identity, sourceAddress: sourceIp, sourcePort, destinationAddress: dst.address, destinationPort: dst.port });
    if (denied !== undefined) p!.denied(denied.plugin);
    return denied;
  }

  /**
   * A state that arrived while we dialled was not seen by the policy enforcer for this connection
   * (it was not recorded yet): plan again when the state changed, so no policy change slips by.
   */
  #recheck(admittedWith: NodeState, req: InboundRequest): Extract<InboundPlan, { kind: 'deny' }> | undefined {
    const now = this.inputs.state.current;
    if (now === admittedWith) return undefined;
    const plan = planInbound(now, req);
    return plan.kind === 'deny' ? plan : undefined;
  }

  #splice(client: Duplex, upstream: Socket, workloadUid: string, request: InboundRequest, labels: TcpLabels, rec: ConnectionRecord): void {
    const live = new LiveInboundConnection(workloadUid, request, client, upstream, new ConnectionTelemetry(this.inputs, labels, rec));
    live.untrack = this.inputs.tracker.addInbound(live);
    splice(client, upstream, live.telemetry.meter, live);
  }
}

/**
 * One admitted inbound connection: the splice's owner (telemetry at its end) and what the policy
 * enforcer closes. A revoked connection is logged and counted with the DENY flag and the reason.
 */
class LiveInboundConnection implements LiveInbound, SpliceOwner {
  untrack: () => void = () => {};
  #revoked: string | undefined;

  constructor(
    readonly workloadUid: string,
    readonly request: InboundRequest,
    private readonly client: Duplex,
    private readonly upstream: Socket,
    readonly telemetry: ConnectionTelemetry,
  ) {}

  revoke(reason: string): void {
    if (this.#revoked !== undefined) return;
    this.#revoked = reason;
    // Reset, not a clean close: the app must not take a cut stream for a complete answer.
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy();
    resetStream(this.client);
  }

  onSpliceEnd(end: SpliceEnd): void {
    this.untrack();
    if (this.#revoked === undefined) return this.telemetry.end(end);
    this.telemetry.end({ error: new Error(`closed by a policy change: ${this.#revoked}`) }, 'DENY');
  }
}

function fmtIp(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
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
