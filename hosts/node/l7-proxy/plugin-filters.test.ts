// @ts-nocheck -- plain proto-shaped objects and small fakes of the engine's exchange, pools and the plugin runtime.
import { describe, expect, it } from 'vitest';
import { compileClusters, compileRoutes } from '../../../core/route/index.ts';
import { compileFakeClusters, fakeCluster as cluster, fakeExchange, fakeHead as head, fakeRouteHandler } from './route-handler.test-support.ts';
import { PluginExchangeView } from './plugin-filters.ts';

const A = cluster('outbound|80||a.ns.svc.cluster.local', '10.0.0.1');
const B = cluster('outbound|80||b.ns.svc.cluster.local', '10.0.0.2');
const C = cluster('outbound|80||c.ns.svc.cluster.local', '10.0.0.3');

/** Routes: `x-version: v2` -> B (named "v2"), `/c` -> C (named "to-c"), the rest -> A (named "default"). */
const table = () =>
  compileRoutes({
    name: 'http.80',
    virtualHosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          { name: 'v2', match: { prefix: '/', headers: [{ name: 'x-version', exactMatch: 'v2' }] }, route: { cluster: B.cluster.name } },
          { name: 'to-c', match: { prefix: '/c' }, route: { cluster: C.cluster.name } },
          { name: 'default', match: { prefix: '/' }, responseHeadersToAdd: [{ header: { key: 'x-route', value: 'default' }, appendAction: 2 }], route: { cluster: A.cluster.name } },
        ],
      },
    ],
  });

const CONTINUE = { tag: 'continue' };

/** A fake HttpFilterHandle: `req`/`res` are its phase functions (absent: phase not wanted). */
function filter(name, o = {}) {
  return {
    name,
    phases: { requestHeaders: !!o.req, requestBody: false, responseHeaders: !!o.res, responseBody: false },
    onRequestHeaders: (x) => (o.req ? o.req(x) : CONTINUE),
    onRequestBody: () => CONTINUE,
    onResponseHeaders: (x) => (o.res ? o.res(x) : CONTINUE),
    onResponseBody: () => CONTINUE,
  };
}

/** A fake PluginSet snapshot. */
function pluginSet(filters, picker, version = 1) {
  return { version, httpFilters: filters, l4Policies: [], endpointPicker: picker, httpFiltersFor: () => filters };
}

/** A handler over the table, A/B/C, whose plugins() is the current value of `holder.set`. */
function setup(holder, extra = {}) {
  const clusters = compileFakeClusters(A, B, C);
  const forwarded = [];
  const responded = [];
  const logs = [];
  const handler = fakeRouteHandler(table(), clusters, { plugins: () => holder.set, log: (l, m) => logs.push(m), ...extra });
  const run = (h) => {
    const ex = fakeExchange(h, { forward: (up, options) => forwarded.push({ pool: up.name, options }), respond: (status, headers, body) => responded.push({ status, headers, body }) });
    handler.request(ex);
    return ex;
  };
  return { handler, forwarded, responded, logs, run, clusters };
}

describe('HTTP filter plugins in the route handler', () => {
  it('respond: answers with the filter status, headers and body; no later filter, no upstream; named in the access log', () => {
    const later = [];
    const lines = [];
    const holder = { set: pluginSet([filter('ns.deny', { req: () => ({ tag: 'respond', val: { status: 429, headers: [{ name: 'X-Limit', value: '1' }], body: 'slow down' } }) }), filter('ns.later', { req: () => (later.push(1), CONTINUE) })]) };
    const { handler, forwarded, responded, run } = setup(holder, { accessLog: (l) => lines.push(l) });
    const ex = run(head({ target: '/' }));
    expect(responded).toEqual([{ status: 429, headers: ['x-limit', '1'], body: 'slow down' }]);
    expect(forwarded).toEqual([]);
    expect(later).toEqual([]);
    handler.end(ex, { status: 429, requestBytes: 0, responseBytes: 9, failure: 'none', attempts: 0 });
    expect(JSON.parse(lines[0])).toMatchObject({ response_code: 429, plugin: 'ns.deny' });
  });

  it('a header set in request-headers is seen by route matching and forwarded', () => {
    const holder = { set: pluginSet([filter('ns.canary', { req: (x) => (x.setRequestHeader('X-Version', 'v2'), x.removeRequestHeader('x-drop'), CONTINUE) })]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/', headers: ['x-version', 'v1', 'x-drop', 'd', 'x-keep', 'k'] }));
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.2:3000']);
    const o = forwarded[0].options;
    expect(o.remove).toEqual(expect.arrayContaining(['x-version', 'x-drop']));
    expect(o.add).toEqual(['x-version', 'v2']);
  });

  it('a :path change is matched and forwarded; reads see earlier filters changes', () => {
    const seen = [];
    const holder = { set: pluginSet([filter('ns.rewrite', { req: (x) => (x.setRequestHeader(':path', '/c/x'), CONTINUE) }), filter('ns.read', { req: (x) => (seen.push(x.path(), x.requestHeader(':path'), x.requestHeader('x-a')), CONTINUE) })]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/a', headers: ['x-a', '1'] }));
    expect(seen).toEqual(['/c/x', '/c/x', '1']);
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.3:3000']);
    expect(forwarded[0].options.target).toBe('/c/x');
  });

  it('route: uses the named route; an unknown name answers 503 and logs', () => {
    const holder = { set: pluginSet([filter('ns.router', { req: (x) => ({ tag: 'route', val: x.requestHeader('x-route') }) })]) };
    const { forwarded, responded, logs, run } = setup(holder);
    run(head({ target: '/', headers: ['x-route', 'to-c'] }));
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.3:3000']);
    run(head({ target: '/', headers: ['x-route', 'nope'] }));
    expect(responded[0].status).toBe(503);
    expect(responded[0].body).toMatch(/ns\.router.*nope/);
    expect(logs[0]).toMatch(/no route named "nope"/);
  });

  it('cluster: forwards to that cluster, with or without a matching route; an unknown one is 503', () => {
    const holder = { set: pluginSet([filter('ns.pin', { req: (x) => ({ tag: 'cluster', val: x.requestHeader('x-cluster') }) })]) };
    const { forwarded, responded, run } = setup(holder);
    run(head({ target: '/', headers: ['x-cluster', B.cluster.name] }));
    run(head({ target: '/', authority: 'nomatch', headers: ['x-cluster', C.cluster.name] }));
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.2:3000', '10.0.0.3:3000']);
    run(head({ target: '/', headers: ['x-cluster', 'outbound|1||none'] }));
    expect(responded.map((r) => r.status)).toEqual([503]);
  });

  it('request-headers filters run in order, response-headers in reverse order after the route response headers', () => {
    const order = [];
    const f = (n) => filter(n, { req: () => (order.push(`req ${n}`), CONTINUE), res: (x) => (order.push(`res ${n} ${x.responseStatus()} ${x.responseHeader('x-route')}`), x.setResponseHeader('x-by', n), CONTINUE) });
    const holder = { set: pluginSet([f('one'), f('two')]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    const o = forwarded[0].options;
    const fields = ['content-type', 'text/plain', 'x-route', 'default'];
    expect(o.responseHead.onResponseHead(200, fields)).toBeUndefined();
    expect(order).toEqual(['req one', 'req two', 'res two 200 default', 'res one 200 default']);
    expect(fields).toEqual(['content-type', 'text/plain', 'x-route', 'default', 'x-by', 'one']);
  });

  it("response-header changes asked for in a request phase are made on the response head, at the asking filter's place in the reverse order", () => {
    const seen = [];
    const early = filter('early', {
      req: (x) => {
        // before there is a response: nothing to read, and the changes are kept
        seen.push(`req early ${x.responseStatus()} ${x.responseHeader('x-late')}`);
        x.setResponseHeader('X-Early', 'e');
        x.appendResponseHeader('vary', 'origin');
        x.removeResponseHeader('server');
        x.setResponseHeader(':status', '500');
        return CONTINUE;
      },
    });
    // runs later in the request, so earlier in the response: it does not see early's changes yet
    const late = filter('late', { req: () => CONTINUE, res: (x) => (seen.push(`res late ${x.responseHeader('x-early')}`), x.setResponseHeader('x-late', 'l'), x.appendResponseHeader(':status', '500'), CONTINUE) });
    const holder = { set: pluginSet([early, late]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    const fields = ['server', 'up/1', 'vary', 'accept', 'x-route', 'default'];
    expect(forwarded[0].options.responseHead.onResponseHead(200, fields)).toBeUndefined();
    expect(seen).toEqual(['req early 0 undefined', 'res late undefined']);
    expect(fields).toEqual(['vary', 'accept', 'x-route', 'default', 'x-late', 'l', 'x-early', 'e', 'vary', 'origin']);
  });

  it('a request-phase response change alone brings the response hook; none: no hook', () => {
    const holder = { set: pluginSet([filter('cors', { req: (x) => (x.setResponseHeader('access-control-allow-origin', '*'), CONTINUE) })]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    const fields = [];
    forwarded[0].options.responseHead.onResponseHead(200, fields);
    expect(fields).toEqual(['access-control-allow-origin', '*']);
    holder.set = pluginSet([filter('reader', { req: () => CONTINUE })]);
    run(head({ target: '/' }));
    expect(forwarded[1].options.responseHead).toBeUndefined();
  });

  it('a response-headers respond replaces the response', () => {
    const holder = { set: pluginSet([filter('ns.scrub', { res: (x) => (x.responseStatus() >= 500 ? { tag: 'respond', val: { status: 502, headers: [], body: 'hidden' } } : CONTINUE) })]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    expect(forwarded[0].options.responseHead.onResponseHead(500, [])).toEqual({ status: 502, headers: [], body: 'hidden' });
  });

  it('a request keeps the snapshot it started with across a swap', () => {
    const calls = [];
    const holder = { set: pluginSet([filter('old', { res: () => (calls.push('old'), CONTINUE) })], undefined, 1) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    holder.set = pluginSet([filter('new', { res: () => (calls.push('new'), CONTINUE) })], undefined, 2);
    forwarded[0].options.responseHead.onResponseHead(200, []);
    expect(calls).toEqual(['old']);
    run(head({ target: '/' }));
    forwarded[1].options.responseHead.onResponseHead(200, []);
    expect(calls).toEqual(['old', 'new']);
  });

  it('no filter for the port and no picker: the plain path (no response hook, no plugin state)', () => {
    const holder = { set: pluginSet([]) };
    const { forwarded, run } = setup(holder);
    const ex = run(head({ target: '/', headers: ['x-version', 'v2'] }));
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.2:3000']);
    expect(forwarded[0].options.responseHead).toBeUndefined();
    expect(ex.state.plugin).toBeUndefined();
  });

  it('runs after the authorization filters (a denied request never reaches a plugin)', () => {
    const calls = [];
    const holder = { set: pluginSet([filter('ns.f', { req: () => (calls.push(1), CONTINUE) })]) };
    const authz = { run: (ex, st, req, port, next) => (ex.request.header('x-deny') ? ex.respond(403, []) : next.proceed(ex)) };
    const clusters = compileFakeClusters(A, B, C);
    const t = table();
    const responded = [];
    const handler = fakeRouteHandler(t, clusters, { plugins: () => holder.set, routing: () => ({ routes: () => t, cluster: (n) => clusters.get(n), authz: () => authz }) });
    handler.request(fakeExchange(head({ target: '/', headers: ['x-deny', '1'] }), { respond: (s) => responded.push(s) }));
    handler.request(fakeExchange(head({ target: '/' })));
    expect(responded).toEqual([403]);
    expect(calls).toEqual([1]);
  });
});

describe('request-body phase', () => {
  /** A filter that wants the body: 403 when it says "deny", else a route choice by body. */
  const bodyFilter = (seen) =>
    ({
      ...filter('ns.body'),
      phases: { requestHeaders: false, requestBody: true, responseHeaders: false, responseBody: false },
      onRequestBody: (x, eos) => {
        const text = new TextDecoder().decode(x.requestBody());
        seen.push([text, eos]);
        if (text === 'deny') return { tag: 'respond', val: { status: 403, headers: [], body: 'no' } };
        return text === 'to-c' ? { tag: 'route', val: 'to-c' } : CONTINUE;
      },
    });

  it('reads the whole body once, calls the filter with end of stream, then routes and forwards', async () => {
    const seen = [];
    const holder = { set: pluginSet([bodyFilter(seen)]) };
    const clusters = compileFakeClusters(A, B, C);
    const handler = fakeRouteHandler(table(), clusters, { plugins: () => holder.set, maxPluginBodyBytes: 8 });
    const out = [];
    const exFor = (body) => ({ ...fakeExchange(head({ method: 'POST', target: '/', hasBody: true }), { forward: (up) => out.push(up.name), respond: (s) => out.push(s) }), readBody: async (limit) => (body.length > limit ? undefined : Buffer.from(body)) });
    await handler.request(exFor('to-c'));
    await handler.request(exFor('deny'));
    await handler.request(exFor('plain'));
    await handler.request(exFor('far too long'));
    expect(out).toEqual(['10.0.0.3:3000', 403, '10.0.0.1:3000', 413]);
    expect(seen).toEqual([['to-c', true], ['deny', true], ['plain', true]]);
  });

  it('a request without a body skips the phase (nothing is read)', () => {
    const seen = [];
    const holder = { set: pluginSet([bodyFilter(seen)]) };
    const { forwarded, run } = setup(holder);
    run(head({ target: '/' }));
    expect(forwarded).toHaveLength(1);
    expect(seen).toEqual([]);
  });
});

describe('endpoint picker plugin', () => {
  const two = () => {
    const c = { name: 'outbound|80||p.ns.svc.cluster.local', type: 3, edsClusterConfig: { serviceName: 'p' } };
    const ep = (ip, zone) => ({ endpoint: { address: { socketAddress: { address: ip, portValue: 80 } } }, metadata: { filterMetadata: { istio: { labels: { zone } } } } });
    return compileClusters([c], [{ clusterName: 'p', endpoints: [{ lbEndpoints: [ep('10.1.0.1', 'a'), ep('10.1.0.2', 'b')] }] }]);
  };
  const t = () => compileRoutes({ name: 'http.80', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|80||p.ns.svc.cluster.local' } }] }] });

  it('uses the first index the picker returns; [] or an out-of-range index leaves it to the balancer; counts active requests', () => {
    const seen = [];
    let answer = [1];
    const picker = { name: 'ns.pick', pick: (x, cands) => (seen.push(cands.map((c) => `${c.address}:${c.metrics[0][1]}`)), answer) };
    const holder = { set: pluginSet([], picker) };
    const clusters = two();
    const table = t();
    const forwarded = [];
    const handler = fakeRouteHandler(table, clusters, { plugins: () => holder.set });
    const exs = [];
    for (let i = 0; i < 2; i++) {
      const ex = fakeExchange(head({ target: '/' }), { forward: (up) => forwarded.push(up.name) });
      handler.request(ex);
      exs.push(ex);
    }
    expect(forwarded).toEqual(['10.1.0.2:80', '10.1.0.2:80']);
    expect(seen[1]).toEqual(['10.1.0.1:80:0', '10.1.0.2:80:1']);
    for (const ex of exs) handler.end(ex, { status: 200, requestBytes: 0, responseBytes: 0, failure: 'none', attempts: 1 });
    answer = [7];
    const ex = fakeExchange(head({ target: '/' }), { forward: (up) => forwarded.push(up.name) });
    handler.request(ex);
    expect(seen[2]).toEqual(['10.1.0.1:80:0', '10.1.0.2:80:0']);
    expect(forwarded).toHaveLength(3);
  });
});

describe('endpoint picker plugin: response changes', () => {
  it("a picker's response-header change is made first in the response order, before the filters' response phases", () => {
    const c = { name: 'outbound|80||p.ns.svc.cluster.local', type: 3, edsClusterConfig: { serviceName: 'p' } };
    const clusters = compileClusters([c], [{ clusterName: 'p', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.1.0.1', portValue: 80 } } } }] }] }]);
    const routes = compileRoutes({ name: 'http.80', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: c.name } }] }] });
    // the picker runs after both filters' request phases, so in the response its change comes before theirs
    const picker = { name: 'ns.pick', pick: (x) => (x.appendResponseHeader('vary', 'picker'), [0]) };
    const seen = [];
    const first = filter('ns.first', { req: () => CONTINUE, res: (x) => (seen.push(x.responseHeader('vary')), CONTINUE) });
    const second = filter('ns.second', { req: (x) => (x.appendResponseHeader('vary', 'second'), CONTINUE) });
    const holder = { set: pluginSet([first, second], picker) };
    const forwarded = [];
    const handler = fakeRouteHandler(routes, clusters, { plugins: () => holder.set });
    handler.request(fakeExchange(head({ target: '/' }), { forward: (up, options) => forwarded.push(options) }));
    const fields = [];
    expect(forwarded[0].responseHead.onResponseHead(200, fields)).toBeUndefined();
    expect(fields).toEqual(['vary', 'picker', 'vary', 'second']);
    expect(seen).toEqual(['picker, second']);
  });
});

describe('PluginExchangeView', () => {
  it('reads the head in place until the first change, then a copy; appends and removes; mixed-case names', () => {
    const h = head({ headers: ['a', '1', 'a', '2', 'b', '3'] });
    const v = new PluginExchangeView(h);
    expect(v.requestHeader('A')).toBe('1, 2');
    expect(v.mutated).toBe(false);
    v.appendRequestHeader('b', '4');
    v.removeRequestHeader('a');
    expect(v.mutated).toBe(true);
    expect(h.headers).toEqual(['a', '1', 'a', '2', 'b', '3']);
    expect(v.changedHead().headers).toEqual(['b', '3', 'b', '4']);
    const o = { set: [] };
    v.mergeInto(o);
    expect(o.remove.sort()).toEqual(['a', 'b']);
    expect(o.add).toEqual(['b', '3', 'b', '4']);
    expect(v.sourceAddress()).toBe('127.0.0.1:5555');
    expect(v.responseStatus()).toBe(0);
    expect(v.responseHeader('x')).toBeUndefined();
  });

  it('a name touched several times is removed once and its values added once, in the order first touched; a route-set name is left to the route', () => {
    const h = head({ headers: ['x-a', 'old', 'keep', 'k'] });
    const v = new PluginExchangeView(h);
    v.setRequestHeader('X-B', '1');
    v.setRequestHeader('x-a', '2');
    v.appendRequestHeader('x-b', '3');
    v.setRequestHeader('x-b', '4');
    v.appendRequestHeader('x-a', '5');
    v.setRequestHeader('x-route', 'mine');
    const o = { set: ['x-route', 'theirs'], remove: ['gone'], add: ['pre', 'p'] };
    v.mergeInto(o);
    expect(o.remove).toEqual(['gone', 'x-b', 'x-a']);
    expect(o.add).toEqual(['pre', 'p', 'x-b', '4', 'x-a', '2', 'x-a', '5']);
    expect(v.changedHead().headers).toEqual(['keep', 'k', 'x-a', '2', 'x-b', '4', 'x-a', '5', 'x-route', 'mine']);
  });
});
