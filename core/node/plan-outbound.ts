/**
 * planOutbound: where a client's connection goes (ztunnel's outbound build_request). A service
 * VIP becomes one of its endpoints (core/lb, target port from the endpoint's port map); a pod IP
 * is used as it is; an enrolled destination (tunnel HBONE) is reached over HBONE on its IP:15008,
 * any other by plain TCP; a waypoint in front (the service's, or the workload's when addressed
 * directly) takes the tunnel instead, with the original address as the CONNECT target; an unknown
 * destination passes through under ALLOW_ANY and is refused under REGISTRY_ONLY.
 */
import type { Balancer } from '../lb/types.ts';
import type { GatewayTarget, NodeService, NodeWorkload } from './model.ts';
import type { DenyCode, DenyPlan, OutboundPlan, OutboundRequest } from './plan-types.ts';
import { formatSocketAddress, parseSocketAddress } from './socket-address.ts';
import type { SocketAddress } from './socket-address.ts';
import type { NodeState } from './state.ts';

export interface OutboundOptions {
  /** The host's balancer (it keeps cursors and connection counts); without one the first eligible endpoint is taken. */
  balancer?: Balancer;
}

const deny = (code: DenyCode, reason: string): DenyPlan => ({ kind: 'deny', code, reason });

interface Ctx {
  state: NodeState;
  source: NodeWorkload;
  dst: SocketAddress;
  balancer?: Balancer;
}

export function planOutbound(state: NodeState, req: OutboundRequest, opts: OutboundOptions = {}): OutboundPlan {
  const dst = parseSocketAddress(req.destination);
  if (!dst) return deny('bad-request', `destination ${JSON.stringify(req.destination)} is not an ip:port`);
  const source = req.sourceWorkload ?? state.workloadByIp(req.sourceIp);
  if (!source) {
    return deny('unknown-source', `no workload at ${req.sourceIp} is known to this proxy, so it has no identity to present (is the pod enrolled and known to the control plane?)`);
  }
  const node = state.mesh.nodeName;
  if (node && source.node !== node) {
    return deny('unknown-source', `source workload ${source.namespace}/${source.name} runs on node ${source.node || '(none)'}, not on this node (${node}); only its own node's proxy holds its certificate`);
  }
  const ctx: Ctx = { state, source, dst, ...(opts.balancer ? { balancer: opts.balancer } : {}) };
  const svc = state.serviceByVip(dst.ip, dst.port);
  if (svc) return toService(ctx, svc);
  const w = state.workloadByIp(dst.ip);
  if (w) {
    if (w.waypoint && !isWaypointItself(ctx, w.waypoint)) return viaWaypoint(ctx, w.waypoint, undefined);
    return toWorkload(ctx, w, dst.port, undefined, dst.ip);
  }
  if (state.outboundPolicy === 'REGISTRY_ONLY') {
    return deny('registry-only', `${req.destination} is neither a service nor a workload of the mesh, and outboundTrafficPolicy is REGISTRY_ONLY (add a ServiceEntry to allow it)`);
  }
  return { kind: 'passthrough', destination: formatSocketAddress(dst.ip, dst.port), source, why: 'unknown destination, passed through (outboundTrafficPolicy ALLOW_ANY)' };
}

function toService(ctx: Ctx, svc: NodeService): OutboundPlan {
  const port = svc.ports.get(ctx.dst.port);
  if (!port) return deny('no-route', `service ${svc.hostname} has no port ${ctx.dst.port} (its ports: ${[...svc.ports.keys()].join(', ') || 'none'})`);
  if (svc.waypoint && !isWaypointItself(ctx, svc.waypoint)) return viaWaypoint(ctx, svc.waypoint, svc);
  const network = ctx.state.mesh.network;
  const candidates = [];
  for (const ep of ctx.state.endpoints(svc.key)) {
    const target = ep.ports.get(ctx.dst.port) || port.targetPort;
    // A named target port the workload lacks, another network (no gateway support yet), no IP.
    if (!target || ep.workload.network !== network || ep.workload.addresses.length === 0) continue;
    candidates.push({ key: ep.workload.uid, healthy: ep.workload.healthy, workload: ep.workload, target });
  }
  const pick = choose(ctx, svc.key, candidates, svc.allowUnhealthy);
  if (!pick) {
    const why = candidates.length === 0 ? 'has no endpoint for this port on this network' : `has ${candidates.length} endpoint(s), none healthy`;
    return deny('no-healthy-upstream', `service ${svc.hostname}:${ctx.dst.port} ${why}`);
  }
  return toWorkload(ctx, pick.workload, pick.target, svc);
}

function toWorkload(ctx: Ctx, w: NodeWorkload, port: number, svc: NodeService | undefined, ip = pickIp(w, ctx.dst.ip)): OutboundPlan {
  if (!ip) return deny('no-route', `workload ${w.namespace}/${w.name} has no IP address (known by hostname only, which node proxies do not resolve)`);
  if (w.network !== ctx.state.mesh.network) return deny('no-route', `workload ${w.namespace}/${w.name} is on network ${w.network || '(default)'}, and cross-network tunnels are not supported yet`);
  const service = svc ? { service: svc } : {};
  switch (w.tunnel) {
    case 'HBONE':
      return {
        kind: 'hbone',
        tunnel: formatSocketAddress(ip, 15008),
        target: formatSocketAddress(ip, port),
        sourceIdentity: ctx.source.identity,
        expectedIdentity: w.identity,
        source: ctx.source,
        workload: w,
        ...service,
        sameNode: sameNode(ctx, w),
      };
    case 'NONE':
      return { kind: 'passthrough', destination: formatSocketAddress(ip, port), source: ctx.source, workload: w, ...service, why: `${w.namespace}/${w.name} is not in the mesh (no HBONE): plain TCP` };
    case 'LEGACY_ISTIO_MTLS':
      return deny('unsupported-protocol', `${w.namespace}/${w.name} expects Istio sidecar mTLS, which Weft does not speak; enroll it in ambient mode`);
  }
}

function viaWaypoint(ctx: Ctx, gw: GatewayTarget, svc: NodeService | undefined): OutboundPlan {
  const wpService = waypointService(ctx.state, gw);
  let wp: NodeWorkload | undefined;
  if (wpService) {
    const candidates = ctx.state.endpoints(wpService.key).map((ep) => ({ key: ep.workload.uid, healthy: ep.workload.healthy, workload: ep.workload }));
    wp = choose(ctx, wpService.key, candidates, wpService.allowUnhealthy)?.workload;
  } else if (gw.kind === 'address') {
    wp = ctx.state.workloadByIp(gw.ip, gw.network);
  }
  const name = gw.kind === 'address' ? gw.ip : gw.hostname;
  if (!wp) return deny('no-healthy-upstream', `waypoint ${name} has no healthy workload (is the waypoint running?)`);
  const ip = pickIp(wp, ctx.dst.ip);
  if (!ip) return deny('no-route', `waypoint workload ${wp.namespace}/${wp.name} has no IP address`);
  return {
    kind: 'hbone',
    tunnel: formatSocketAddress(ip, gw.hbonePort),
    target: formatSocketAddress(ctx.dst.ip, ctx.dst.port),
    sourceIdentity: ctx.source.identity,
    expectedIdentity: wp.identity,
    source: ctx.source,
    workload: wp,
    ...(svc ? { service: svc } : {}),
    via: { waypoint: wp, ...(wpService ? { service: wpService } : {}) },
    sameNode: sameNode(ctx, wp),
  };
}

function waypointService(state: NodeState, gw: GatewayTarget): NodeService | undefined {
  return gw.kind === 'address' ? state.serviceByVip(gw.ip, undefined, gw.network) : state.serviceByKey(`${gw.namespace}/${gw.hostname}`);
}

/** Traffic from the waypoint itself goes straight on (it already did the waypoint's work). */
function isWaypointItself(ctx: Ctx, gw: GatewayTarget): boolean {
  if (gw.kind === 'address' && ctx.source.addresses.includes(gw.ip)) return true;
  const wpService = waypointService(ctx.state, gw);
  return wpService !== undefined && ctx.state.indexes.endpoints.get(wpService.key)?.has(ctx.source.uid) === true;
}

function choose<T extends { key: string; healthy: boolean }>(ctx: Ctx, pool: string, candidates: readonly T[], allowUnhealthy: boolean): T | undefined {
  if (ctx.balancer) return ctx.balancer.pick(pool, candidates, { allowUnhealthy });
  return candidates.find((c) => c.healthy) ?? (allowUnhealthy ? candidates[0] : undefined);
}

/** The destination IP itself when the workload has it, else one of the same family, else the first. */
function pickIp(w: NodeWorkload, wanted: string): string | undefined {
  if (w.addresses.includes(wanted)) return wanted;
  const v6 = wanted.includes(':');
  return w.addresses.find((a) => a.includes(':') === v6) ?? w.addresses[0];
}

function sameNode(ctx: Ctx, w: NodeWorkload): boolean {
  const node = ctx.state.mesh.nodeName || ctx.source.node;
  return node !== '' && w.node === node;
}
