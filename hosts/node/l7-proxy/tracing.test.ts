// @ts-nocheck -- plain proto-shaped objects and small fakes of the engine's exchange and pools.
import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../../core/route/index.ts';
import { parseTraceparent } from '../../../core/telemetry/index.ts';
import { compileFakeClusters, fakeCluster, fakeExchange, fakeHead, fakeRouteHandler } from './route-handler.test-support.ts';
import { nodeTraceIds, Tracing } from './tracing.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

const head = (headers: string[] = [], target = '/api/x?q=1') => fakeHead({ headers, target });

const name = 'outbound|8080||v1.ns.svc.cluster.local';
const clusters = compileFakeClusters(fakeCluster(name, '10.0.0.1'));
const table = compileRoutes({
  name: 'http.80',
  virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/api' }, route: { cluster: name } }, { match: { prefix: '/direct' }, directResponse: { status: 204 } }] }],
});

function setup(tracing?: Tracing) {
  const forwarded = [];
  const handler = fakeRouteHandler(table, clusters, tracing ? { tracing } : {});
  /** One request through the handler to its end; the forward's options (or undefined) and the status. */
  const run = (h, status = 200) => {
    const ex = fakeExchange(h, { respond: (s) => (status = s), forward: (up, options) => forwarded.push(options) });
    handler.request(ex);
    handler.end(ex, { status, requestBytes: 0, responseBytes: 10, failure: 'none', attempts: 1 });
    return forwarded.at(-1);
  };
  return { run, forwarded };
}

const field = (list, n) => {
  const i = list?.indexOf(n) ?? -1;
  return i === -1 ? undefined : list[i + 1];
};

describe('traceparent propagation (no exporter)', () => {
  it('continues an incoming trace: same trace id, the proxy span as the parent, sampled kept, tracestate untouched', () => {
    const { run } = setup();
    for (const flags of ['01', '00']) {
      const o = run(head(['traceparent', `00-${TRACE}-${PARENT}-${flags}`, 'tracestate', 'congo=t61rcWkgMzE']));
      const out = parseTraceparent(field(o.set, 'traceparent'));
      expect(out.traceId).toBe(TRACE);
      expect(out.spanId).not.toBe(PARENT);
      expect(out.flags).toBe(flags === '01' ? 1 : 0);
      expect(o.remove ?? []).not.toContain('tracestate');
      expect(field(o.set, 'tracestate')).toBeUndefined();
    }
  });

  it('starts a trace, unsampled, for no or an invalid traceparent, and drops an orphaned tracestate', () => {
    const { run } = setup();
    const a = run(head());
    const b = run(head(['traceparent', `00-${TRACE.toUpperCase()}-${PARENT}-01`, 'tracestate', 'a=b']));
    const pa = parseTraceparent(field(a.set, 'traceparent'));
    const pb = parseTraceparent(field(b.set, 'traceparent'));
    expect(pa).toBeDefined();
    expect(pb.traceId).not.toBe(TRACE);
    expect(pa.traceId).not.toBe(pb.traceId);
    expect([pa.flags, pb.flags]).toEqual([0, 0]);
    expect(a.remove ?? []).not.toContain('tracestate');
    expect(b.remove).toContain('tracestate');
  });

  it('restarts the trace on two traceparent fields', () => {
    const { run } = setup();
    const o = run(head(['traceparent', `00-${TRACE}-${PARENT}-01`, 'traceparent', `00-${TRACE}-${PARENT}-01`]));
    expect(parseTraceparent(field(o.set, 'traceparent')).traceId).not.toBe(TRACE);
  });
});

describe('span recording', () => {
  const sink = () => {
    const spans = [];
    return { spans, add: (s) => spans.push(s) };
  };

  it('records a span per sampled request: parent the incoming span, id the one sent upstream, upstream attributes', () => {
    const s = sink();
    let t = 1000;
    const { run } = setup(new Tracing({ exporter: s, samplingPercent: 0, clock: () => (t += 5) }));
    const o = run(head(['traceparent', `00-${TRACE}-${PARENT}-01`, 'user-agent', 'ua/1']));
    const sent = parseTraceparent(field(o.set, 'traceparent'));
    expect(s.spans).toHaveLength(1);
    expect(s.spans[0]).toMatchObject({ traceId: TRACE, spanId: sent.spanId, parentSpanId: PARENT, startMs: 1005, endMs: 1010, method: 'GET', target: '/api/x?q=1', authority: 'gw.example:8080', status: 200, responseFlags: '-', upstreamCluster: name, upstreamAddress: '10.0.0.1:3000', userAgent: 'ua/1', responseBytes: 10 });
    // an unsampled incoming trace is not recorded, nor a started one at 0 %
    run(head(['traceparent', `00-${TRACE}-${PARENT}-00`]));
    run(head());
    expect(s.spans).toHaveLength(1);
  });

  it('samples started traces by percentage, and records local answers too', () => {
    const s = sink();
    let r = 0;
    const seq = [0.005, 0.5, 0.009, 0.011];
    const { run } = setup(new Tracing({ exporter: s, samplingPercent: 1, random: () => seq[r++ % seq.length] }));
    const sent = [0, 1, 2, 3].map(() => parseTraceparent(field(run(head()).set, 'traceparent')));
    expect(sent.map((p) => p.flags)).toEqual([1, 0, 1, 0]);
    expect(s.spans.map((x) => x.traceId)).toEqual([sent[0].traceId, sent[2].traceId]);
    expect(s.spans[0].parentSpanId).toBeUndefined();
    const all = setup(new Tracing({ exporter: s, samplingPercent: 100 }));
    expect(all.run(head([], '/nowhere'))).toBeUndefined();
    expect(all.run(head([], '/direct'))).toBeUndefined();
    expect(s.spans.slice(2).map((x) => [x.target, x.status, x.responseFlags])).toEqual([
      ['/nowhere', 404, 'NR'],
      ['/direct', 204, '-'],
    ]);
  });
});

describe('nodeTraceIds', () => {
  it('gives valid distinct ids from the pooled CSPRNG buffer', () => {
    const ids = nodeTraceIds();
    const seen = new Set();
    for (let i = 0; i < 2000; i++) {
      const s = ids.spanId();
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      seen.add(s);
    }
    expect(seen.size).toBe(2000);
    expect(ids.traceId()).toMatch(/^[0-9a-f]{32}$/);
  });
});
