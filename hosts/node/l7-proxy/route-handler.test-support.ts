// @ts-nocheck -- small fakes of the engine's request head, exchange and pools, shared by route-handler.test.ts and tracing.test.ts.
import { compileClusters } from '../../../core/route/index.ts';
import { HttpMetrics } from '../../../core/telemetry/index.ts';
import { RouteHandler } from './route-handler.ts';

/** A request head as the engine hands it to a handler (HTTP/1.1, from 127.0.0.1:5555). */
export function fakeHead(init: { method?: string; target?: string; authority?: string; headers?: string[]; hasBody?: boolean } = {}) {
  const headers = init.headers ?? [];
  return {
    method: init.method ?? 'GET',
    target: init.target ?? '/mirror',
    authority: init.authority ?? 'gw.example:8080',
    scheme: 'http',
    protocol: 'HTTP/1.1',
    headers,
    header: (n) => {
      const v = [];
      for (let i = 0; i < headers.length; i += 2) if (headers[i] === n) v.push(headers[i + 1]);
      return v.length ? v.join(', ') : undefined;
    },
    hasBody: init.hasBody ?? false,
    grpc: false,
    upgrade: '',
    remoteAddress: '127.0.0.1',
    remotePort: 5555,
  };
}

/** An EDS cluster `name` with one endpoint ip:3000, and its assignment. */
export const fakeCluster = (name, ip) => ({
  cluster: { name, type: 3, edsClusterConfig: { serviceName: name } },
  cla: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: ip, portValue: 3000 } } } }] }] },
});

/** The compiled clusters of fakeCluster()s. */
export const compileFakeClusters = (...cs) => compileClusters(cs.map((c) => c.cluster), cs.map((c) => c.cla));

/** Pools named by the endpoint whose streams go nowhere (`start` is handed each request and its endpoint). */
export const fakePools = (start = (req, ep) => {}) => ({ get: (c, ep) => ({ protocol: 'http1', name: ep.key, start: (req) => start(req, ep) }) });

/**
 * A RouteHandler over one route table and its clusters, as a gateway (`gw` in `ns`) unless `self`
 * says otherwise; other options pass through.
 */
export function fakeRouteHandler(table, clusters, o = {}) {
  return new RouteHandler({
    routeConfigName: 'http.80',
    routing: () => ({ routes: () => table, cluster: (n) => clusters.get(n) }),
    pools: fakePools(),
    metrics: new HttpMetrics(),
    self: { reporter: 'gateway', workload: 'gw', namespace: 'ns', principal: 'spiffe://x' },
    ...o,
  });
}

/** An exchange for `h` whose respond/forward do nothing unless given. */
export const fakeExchange = (h, o = {}) => ({ request: h, answered: false, state: undefined, respond: o.respond ?? (() => {}), forward: o.forward ?? (() => {}) });
