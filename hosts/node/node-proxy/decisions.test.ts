import { describe, expect, it } from 'vitest';
import { nodeSnapshot, nodeStore } from '../../../test/support/node-mesh.ts';
import { buildSnapshot } from '../../../test/support/mesh-fixture.ts';
import type { DenyCode, OutboundPlan } from '../../../core/node/index.ts';
import { planOutbound } from '../../../core/node/index.ts';
import { HboneError } from '../hbone/index.ts';
import { endpointKey, failureReason, inboundRefusal, outboundRefusalFlag, refuseReason, sourceWorkloadFor } from './decisions.ts';

describe('sourceWorkloadFor (SOCKS5 / CONNECT clients)', () => {
  // node-a hosts client (10.0.0.1), reviews-1 (10.0.0.11) and db-1 (10.0.0.41)
  const state = nodeStore().current;
  // a device: one workload on its node
  const device = nodeStore(buildSnapshot(1, [], { workloads: [{ name: 'sensor', ip: '192.168.1.20', node: 'dev-1' }, { name: 'elsewhere', ip: '192.168.1.21', node: 'dev-2' }] }), { nodeName: 'dev-1' }).current;

  it.each<[string, typeof state, string, string | undefined]>([
    ['the local workload at the client address', state, '10.0.0.11', 'reviews-1'],
    ['an IPv4 address of another node: none', state, '10.0.0.13', undefined],
    ['an unknown address: none', state, '10.9.9.9', undefined],
    ['loopback on a node with several workloads: none (which would it be?)', state, '127.0.0.1', undefined],
    ['loopback on a node with one workload: that one', device, '127.0.0.1', 'sensor'],
    ['any 127/8 address counts as loopback', device, '127.0.0.42', 'sensor'],
    ['IPv6 loopback', device, '::1', 'sensor'],
    ['a non-loopback stranger on a device: none', device, '192.168.1.99', undefined],
    ["the other node's workload on a device: none", device, '192.168.1.21', undefined],
  ])('%s', (_n, s, ip, want) => {
    expect(sourceWorkloadFor(s, ip)?.name).toBe(want);
  });
});

describe('outbound refusals', () => {
  it.each<[DenyCode, string, string]>([
    ['registry-only', 'not-allowed', 'NR'],
    ['authz-denied', 'not-allowed', 'CONNECT'],
    ['unknown-source', 'not-allowed', 'CONNECT'],
    ['no-route', 'unreachable', 'NR'],
    ['no-healthy-upstream', 'unreachable', 'CONNECT'],
    ['unsupported-protocol', 'unreachable', 'CONNECT'],
    ['bad-request', 'unreachable', 'CONNECT'],
  ])('%s -> %s, flag %s', (code, reason, flag) => {
    expect(refuseReason(code)).toBe(reason);
    expect(outboundRefusalFlag(code)).toBe(flag);
  });

  const errno = (code: string) => Object.assign(new Error(code), { code });
  it.each<[string, Error, string]>([
    ['HBONE timeout', new HboneError('timeout', 't'), 'timeout'],
    ['HBONE 401 (the far side denied)', new HboneError('http-status', 's', { status: 401 }), 'not-allowed'],
    ['HBONE 403', new HboneError('http-status', 's', { status: 403 }), 'not-allowed'],
    ['HBONE 503 (the workload refused)', new HboneError('http-status', 's', { status: 503 }), 'refused'],
    ['HBONE 400', new HboneError('http-status', 's', { status: 400 }), 'refused'],
    ['the peer node refused us (GOAWAY)', new HboneError('peer-refused', 'p'), 'not-allowed'],
    ['HBONE connect failed', new HboneError('connect-failed', 'c'), 'unreachable'],
    ['HBONE TLS handshake', new HboneError('tls-handshake', 'c'), 'unreachable'],
    ['HBONE peer identity', new HboneError('peer-identity', 'c'), 'unreachable'],
    ['TCP refused', errno('ECONNREFUSED'), 'refused'],
    ['TCP connect timeout', errno('ETIMEDOUT'), 'timeout'],
    ['TCP unreachable', errno('EHOSTUNREACH'), 'unreachable'],
    ['anything else', new Error('x'), 'unreachable'],
  ])('%s -> %s', (_n, err, want) => {
    expect(failureReason(err)).toBe(want);
  });
});

describe('inbound refusals (CONNECT status and access-log flag)', () => {
  it.each<[DenyCode, number, string]>([
    ['authz-denied', 401, 'DENY'],
    ['no-such-workload', 400, 'NR'],
    ['bad-request', 400, 'NR'],
  ])('%s -> %i, %s', (code, status, flag) => {
    expect(inboundRefusal({ code })).toEqual({ status, flag });
  });
});

describe('endpointKey (what the balancer counts a connection against)', () => {
  const state = nodeStore(nodeSnapshot()).current;
  const plan = (destination: string): OutboundPlan => planOutbound(state, { sourceIp: '10.0.0.1', destination });
  it.each<[string, string, string | undefined]>([
    ['a service endpoint the balancer picked', '10.96.0.10:9080', 'Kubernetes//Pod/default/reviews-1'],
    ['a pod addressed directly (counted too)', '10.0.0.13:8080', 'Kubernetes//Pod/default/reviews-3'],
    ['a waypoint', '10.96.0.20:9080', 'Kubernetes//Pod/default/waypoint-1'],
    ['a workload outside the mesh (plain TCP)', '10.0.0.31:80', 'Kubernetes//Pod/default/plain-1'],
    ['an unknown destination: nothing to count', '192.0.2.7:443', undefined],
    ['a refusal', '10.96.0.10:22', undefined],
  ])('%s', (_n, destination, want) => {
    expect(endpointKey(plan(destination))).toBe(want);
  });
});
