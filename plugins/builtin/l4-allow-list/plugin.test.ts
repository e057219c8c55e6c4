import type { PluginTests } from '../../sdk/testing.ts';

export default {
  config: {
    principals: ['spiffe://cluster.local/ns/demo/sa/web', 'spiffe://cluster.local/ns/batch/*'],
    namespaces: ['monitoring'],
    cidrs: ['10.20.0.0/16', 'fd00:1234::/32'],
  },
  cases: [
    {
      name: 'an exact principal is allowed',
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/web', sourceAddress: '192.168.1.5' },
      expect: { decision: 'allow' },
    },
    {
      name: 'a principal under a prefix pattern is allowed',
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/batch/sa/nightly', sourceAddress: '192.168.1.6' },
      expect: { decision: 'allow' },
    },
    {
      name: "a principal's namespace is allowed",
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/monitoring/sa/prometheus', sourceAddress: '192.168.1.7' },
      expect: { decision: 'allow' },
    },
    {
      name: 'a plaintext client inside an IPv4 CIDR is allowed',
      connection: { sourcePrincipal: '', sourceAddress: '10.20.3.4' },
      expect: { decision: 'allow' },
    },
    {
      name: 'another principal from outside every CIDR is denied',
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/intruder', sourceAddress: '10.21.0.1' },
      expect: { decision: 'deny' },
    },
    {
      name: 'IPv6 CIDRs match IPv6 sources (compressed form), not neighbours',
      config: { cidrs: ['fd00:1234::/32', '2001:db8::1'] },
      connection: { sourceAddress: 'fd00:1234:0:0:abcd::9' },
      expect: { decision: 'allow' },
    },
    {
      name: 'an IPv6 source outside the IPv6 CIDR is denied',
      config: { cidrs: ['fd00:1234::/32', '2001:db8::1'] },
      connection: { sourceAddress: 'fd00:1235::9' },
      expect: { decision: 'deny' },
    },
    {
      name: 'ports: an allowed source to an unlisted port is denied',
      config: { namespaces: ['demo'], ports: [8080, 9090] },
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/web', destinationPort: 22 },
      expect: { decision: 'deny' },
    },
  ],
} satisfies PluginTests;
