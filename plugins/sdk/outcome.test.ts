/**
 * The SDK's side of a weft:plugin@0.2.0 filter call against the host's (core/plugin/filter-outcome.ts):
 * the host encodes the wanted values, the SDK's defineFilter and http functions run a handler, and
 * the host reads the outcome back onto an exchange. No component: the same TypeScript a component
 * bundles, with the host imports as plain functions.
 */
import { describe, expect, it, vi } from 'vitest';
import { RecordedExchange } from '../../core/plugin/recorded-exchange.ts';
import { applyOutcome, requestValues, responseValues } from '../../core/plugin/filter-outcome.ts';

const host = vi.hoisted(() => ({ reads: [] as string[], x: undefined as any }));
vi.mock('weft:plugin/host@0.2.0', () => ({ config: () => '{}', log: () => {}, counterAdd: () => {}, histogramRecord: () => {}, kvGet: () => null, kvSet: () => {}, kvIncrement: () => 0, monotonicNow: () => 0 }));
vi.mock('weft:plugin/http@0.2.0', () => ({
  requestHeader: (n: string) => (host.reads.push(n), host.x.requestHeader(n) ?? null),
  responseHeader: (n: string) => (host.reads.push(n), host.x.responseHeader(n) ?? null),
  responseStatus: () => (host.reads.push(':status'), host.x.responseStatus()),
  path: () => (host.reads.push(':path'), host.x.path()),
  method: () => (host.reads.push(':method'), host.x.method()),
  authority: () => (host.reads.push(':authority'), host.x.authority()),
  scheme: () => (host.reads.push(':scheme'), host.x.scheme()),
  setRequestHeader: () => {
    throw new Error('a filter call must not change the exchange through the host');
  },
  appendRequestHeader: () => {},
  removeRequestHeader: () => {},
  setResponseHeader: () => {},
  appendResponseHeader: () => {},
  removeResponseHeader: () => {},
  requestBody: () => new Uint8Array(),
  responseBody: () => new Uint8Array(),
  sourcePrincipal: () => '',
  sourceAddress: () => '',
}));

const sdk = await import('./index.ts');
const http = await import('./http.ts');

/** one request-phase call as a host makes it: values in, outcome applied */
function callRequest(f: ReturnType<typeof sdk.defineFilter>, x: RecordedExchange) {
  host.x = x;
  host.reads.length = 0;
  const names = f.requestHeadersWanted();
  f.responseHeadersWanted();
  const out = f.onRequestHeaders(requestValues(x, names));
  return { out, action: applyOutcome(out, x) };
}

describe('weft:plugin@0.2.0 filter calls: SDK and host agree', () => {
  it('a named header comes with the call; changes go back in the result, in order', () => {
    const f = sdk.defineFilter({
      headers: () => ({ request: ['User-Agent', ':path'] }),
      onRequestHeaders() {
        http.setRequestHeader('x-client', `${http.requestHeader('user-agent')} ${http.path()}`);
        http.appendRequestHeader('x-tag', 'b');
        http.removeRequestHeader('x-debug');
        http.setResponseHeader('x-bench', 'rewritten');
        return sdk.action.continue();
      },
    });
    const x = new RecordedExchange({ path: '/a?b=1', headers: { 'user-agent': 'wrk', 'x-tag': 'a', 'x-debug': '1' } });
    const { out, action } = callRequest(f, x);
    expect(host.reads).toEqual([]); // no host call: both values came with the call
    expect(out).toBe('qx-client\0wrk /a?b=1\0ax-tag\0b\0xx-debug\0Qx-bench\0rewritten\0');
    expect(action).toEqual({ tag: 'continue' });
    expect(x.requestHeader('x-client')).toBe('wrk /a?b=1');
    expect(x.requestHeader('x-tag')).toBe('a, b');
    expect(x.requestHeader('x-debug')).toBeUndefined();
    x.setResponse({ status: 200, headers: { server: 'up' } });
    expect(x.responseHeader('x-bench')).toBe('rewritten');
  });

  it('no change and continue is the empty outcome; a header not named is read from the host', () => {
    const f = sdk.defineFilter({ onRequestHeaders: () => (http.requestHeader('accept'), sdk.action.continue()) });
    const { out } = callRequest(f, new RecordedExchange({ headers: { accept: '*/*' } }));
    expect(out).toBe('');
    expect(host.reads).toEqual(['accept']);
  });

  it('reads see the changes made earlier in the same call', () => {
    let seen: (string | undefined)[] = [];
    const f = sdk.defineFilter({
      headers: () => ({ request: ['a', 'b', 'c'] }),
      onRequestHeaders() {
        http.setRequestHeader('A', '2');
        http.removeRequestHeader('b');
        http.appendRequestHeader('c', 'new');
        http.appendRequestHeader('d', 'only');
        seen = [http.requestHeader('a'), http.requestHeader('b'), http.requestHeader('c'), http.requestHeader('d')];
        return sdk.action.continue();
      },
    });
    callRequest(f, new RecordedExchange({ headers: { a: '1', b: '1', c: 'old' } }));
    expect(seen).toEqual(['2', undefined, 'old', 'only']);
  });

  it('an absent named header reads as undefined; several values are split in order', () => {
    let seen: (string | undefined)[] = [];
    const f = sdk.defineFilter({
      headers: () => ({ request: ['x-a', 'x-missing', 'x-b'] }),
      onRequestHeaders: () => ((seen = [http.requestHeader('x-a'), http.requestHeader('x-missing'), http.requestHeader('x-b')]), sdk.action.continue()),
    });
    callRequest(f, new RecordedExchange({ headers: { 'x-a': '1', 'x-b': '' } }));
    expect(seen).toEqual(['1', undefined, '']);
    expect(host.reads).toEqual([]);
  });

  it('route, cluster and respond round-trip, a respond body holding NUL and newlines included', () => {
    const x = new RecordedExchange();
    const route = sdk.defineFilter({ onRequestHeaders: () => (http.setRequestHeader('x-r', '1'), sdk.action.route('beta')) });
    expect(callRequest(route, x).action).toEqual({ tag: 'route', val: 'beta' });
    expect(x.requestHeader('x-r')).toBe('1');
    const cluster = sdk.defineFilter({ onRequestHeaders: () => sdk.action.cluster('outbound|80||a.b') });
    expect(callRequest(cluster, x).action).toEqual({ tag: 'cluster', val: 'outbound|80||a.b' });
    const body = 'line 1\nnul \0 here\n';
    const respond = sdk.defineFilter({ onRequestHeaders: () => sdk.action.respond(429, body, { 'Retry-After': '1', 'x-why': 'slow' }) });
    expect(callRequest(respond, x).action).toEqual({
      tag: 'respond',
      val: { status: 429, body, headers: [{ name: 'retry-after', value: '1' }, { name: 'x-why', value: 'slow' }] },
    });
  });

  it('a response call brings the named response headers and the status', () => {
    let seen: unknown[] = [];
    const f = sdk.defineFilter({
      headers: () => ({ response: [':status', 'content-type'] }),
      onResponseHeaders() {
        seen = [http.responseStatus(), http.responseHeader('content-type')];
        http.setResponseHeader('x-status', String(http.responseStatus()));
        return sdk.action.continue();
      },
    });
    const x = new RecordedExchange({}, { status: 201, headers: { 'content-type': 'text/plain' } });
    host.x = x;
    host.reads.length = 0;
    f.requestHeadersWanted();
    const names = f.responseHeadersWanted();
    const out = f.onResponseHeaders(responseValues(x, names));
    applyOutcome(out, x);
    expect(seen).toEqual([201, 'text/plain']);
    expect(host.reads).toEqual([]);
    expect(x.responseHeader('x-status')).toBe('201');
  });
});

describe('the host refuses an outcome it cannot read', () => {
  const x = new RecordedExchange();
  it.each([
    ['an unknown entry', 'z'],
    ['a field without its NUL', 'qx-a\0value'],
    ['a value with CR LF (header injection)', 'qx-a\0v\r\nx-evil: 1\0'],
    ['an empty header name', 'q\0v\0'],
    ['a respond without a valid status', 'dabc\0' + '0\0'],
  ])('%s', (_what, out) => {
    expect(() => applyOutcome(out, x)).toThrow();
  });
});
