import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lb/seeded-random.ts';
import { envoy, google } from '../xds/pb.ts';
import type { ForwardAction, RedirectAction } from './actions.ts';
import { applyHeaderOps } from './header-ops.ts';
import { compileRoutes } from './table.ts';
import { config, request, to } from './test-support.ts';
import type { ReqInit, RouteProto } from './test-support.ts';
import { FlatHeaders, RouteCompileError } from './types.ts';

/** Compiles one route (plus a catch-none) and says whether `target` matches it. */
function matches(route: Omit<RouteProto, 'route'>, target: string, init?: ReqInit): boolean {
  const t = compileRoutes(config([{ ...route, name: 'r', route: to('c') }]));
  return t.match(request(target, init))?.name === 'r';
}

describe('path matching', () => {
  const cases: Array<[string, RouteProto['match'], string, boolean]> = [
    ['prefix matches the start', { prefix: '/api' }, '/api/x', true],
    ['prefix is not segment-aware', { prefix: '/api' }, '/apix', true],
    ['empty prefix matches everything', { prefix: '' }, '/', true],
    ['prefix ignores the query', { prefix: '/a?x' }, '/a?x=1', false],
    ['prefix is case sensitive by default', { prefix: '/API' }, '/api', false],
    ['case_sensitive false', { prefix: '/API', caseSensitive: { value: false } }, '/aPi/x', true],
    ['exact path', { path: '/a/b' }, '/a/b', true],
    ['exact path ignores the query', { path: '/a/b' }, '/a/b?c=d', true],
    ['exact path ignores the fragment', { path: '/a/b' }, '/a/b#frag', true],
    ['exact path, trailing slash differs', { path: '/a/b' }, '/a/b/', false],
    ['exact path case-insensitive', { path: '/A/b', caseSensitive: { value: false } }, '/a/B', true],
    ['separated prefix: the prefix itself', { pathSeparatedPrefix: '/foo' }, '/foo', true],
    ['separated prefix: trailing slash', { pathSeparatedPrefix: '/foo' }, '/foo/', true],
    ['separated prefix: below', { pathSeparatedPrefix: '/foo' }, '/foo/x', true],
    ['separated prefix: not another segment', { pathSeparatedPrefix: '/foo' }, '/foobar', false],
    ['separated prefix: with a query', { pathSeparatedPrefix: '/foo' }, '/foo?x=/', true],
    ['separated prefix case-insensitive', { pathSeparatedPrefix: '/Foo', caseSensitive: { value: false } }, '/FOO/x', true],
    ['regex is a full match', { safeRegex: { regex: '/v[0-9]+' } }, '/v12', true],
    ['regex is anchored at the end', { safeRegex: { regex: '/v[0-9]+' } }, '/v12/x', false],
    ['regex is anchored at the start', { safeRegex: { regex: 'v[0-9]+' } }, '/v12', false],
    ['regex excludes the query', { safeRegex: { regex: '/a/.*' } }, '/a/b?q=1', true],
    ['regex: alternation anchored as a whole', { safeRegex: { regex: '/a|/b' } }, '/b', true],
    ['regex ignores case_sensitive', { safeRegex: { regex: '/A' }, caseSensitive: { value: false } }, '/a', false],
    ['regex (?i)', { safeRegex: { regex: '(?i)/A' } }, '/a', true],
  ];
  for (const [name, match, target, want] of cases) it(name, () => expect(matches({ match }, target)).toBe(want));

  it('refuses a separated prefix with a trailing slash and an untranslatable regex', () => {
    expect(() => compileRoutes(config([{ match: { pathSeparatedPrefix: '/foo/' }, route: to('c') }]))).toThrow(/virtual_hosts\[0\]\.routes\[0\]\.match\.path_separated_prefix/);
    expect(() => compileRoutes(config([{ match: { safeRegex: { regex: '(?=x)' } }, route: to('c') }]))).toThrow(RouteCompileError);
    expect(() => compileRoutes(config([{ match: { safeRegex: { regex: 'a(?i)b' } }, route: to('c') }]))).toThrow(/routes\[0\]\.match\.safe_regex: regex "a\(\?i\)b": inline flags/);
  });
});

describe('header, query and grpc matching', () => {
  const h = (headers: Record<string, string | string[]>, method = 'GET'): ReqInit => ({ headers, method });
  const cases: Array<[string, RouteProto['match'], ReqInit, boolean]> = [
    ['exact', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: 'a' } }] }, h({ 'x-v': 'a' }), true],
    ['exact mismatch', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: 'a' } }] }, h({ 'x-v': 'b' }), false],
    ['missing header never string-matches', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: '' } }] }, h({}), false],
    ['treat_missing_header_as_empty', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: '' }, treatMissingHeaderAsEmpty: true }] }, h({}), true],
    ['ignore_case', { prefix: '/', headers: [{ name: 'X-V', stringMatch: { exact: 'AbC', ignoreCase: true } }] }, h({ 'x-v': 'aBc' }), true],
    ['prefix', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { prefix: 'ab' } }] }, h({ 'x-v': 'abc' }), true],
    ['suffix', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { suffix: 'bc' } }] }, h({ 'x-v': 'abc' }), true],
    ['contains ignore_case', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { contains: 'B', ignoreCase: true } }] }, h({ 'x-v': 'abc' }), true],
    ['regex full match', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { safeRegex: { regex: 'a.' } } }] }, h({ 'x-v': 'abc' }), false],
    ['multiple values joined with ,', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: 'a,b' } }] }, h({ 'x-v': ['a', 'b'] }), true],
    ['present', { prefix: '/', headers: [{ name: 'x-v', presentMatch: true }] }, h({ 'x-v': '' }), true],
    ['present, absent', { prefix: '/', headers: [{ name: 'x-v', presentMatch: true }] }, h({}), false],
    ['present false matches absence', { prefix: '/', headers: [{ name: 'x-v', presentMatch: false }] }, h({}), true],
    ['invert exact', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: 'a' }, invertMatch: true }] }, h({ 'x-v': 'b' }), true],
    ['invert exact, absent header does not match', { prefix: '/', headers: [{ name: 'x-v', stringMatch: { exact: 'a' }, invertMatch: true }] }, h({}), false],
    ['invert present (withoutHeaders)', { prefix: '/', headers: [{ name: 'x-v', presentMatch: true, invertMatch: true }] }, h({}), true],
    ['no specifier is present', { prefix: '/', headers: [{ name: 'x-v' }] }, h({ 'x-v': 'z' }), true],
    [':method pseudo header', { prefix: '/', headers: [{ name: ':method', stringMatch: { exact: 'POST' } }] }, h({}, 'POST'), true],
    [':authority pseudo header', { prefix: '/', headers: [{ name: ':authority', stringMatch: { suffix: '.com' } }] }, h({}), true],
    ['range', { prefix: '/', headers: [{ name: 'x-n', rangeMatch: { start: 10, end: 20 } }] }, h({ 'x-n': '19' }), true],
    ['range end exclusive', { prefix: '/', headers: [{ name: 'x-n', rangeMatch: { start: 10, end: 20 } }] }, h({ 'x-n': '20' }), false],
    ['all headers must match', { prefix: '/', headers: [{ name: 'a', presentMatch: true }, { name: 'b', presentMatch: true }] }, h({ a: '1' }), false],
    ['grpc', { prefix: '/', grpc: {} }, h({ 'content-type': 'application/grpc+proto' }), true],
    ['grpc needs the content type', { prefix: '/', grpc: {} }, h({ 'content-type': 'application/json' }), false],
    ['grpc-web is not grpc', { prefix: '/', grpc: {} }, h({ 'content-type': 'application/grpc-web' }), false],
  ];
  for (const [name, match, init, want] of cases) it(name, () => expect(matches({ match }, '/x', init)).toBe(want));

  const q: Array<[string, RouteProto['match'], string, boolean]> = [
    ['query exact', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: '1' } }] }, '/x?a=0&v=1', true],
    ['query first value wins', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] }, '/x?v=1&v=2', false],
    ['query name must be whole', { prefix: '/', queryParameters: [{ name: 'v', presentMatch: true }] }, '/x?vv=1', false],
    ['query present without =', { prefix: '/', queryParameters: [{ name: 'v', presentMatch: true }] }, '/x?v', true],
    ['query absent', { prefix: '/', queryParameters: [{ name: 'v', presentMatch: true }] }, '/x', false],
    ['query is not decoded', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: 'a b' } }] }, '/x?v=a%20b', false],
    ['query regex', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { safeRegex: { regex: '\\d+' } } }] }, '/x?v=42#f', true],
    ['query stops at the fragment', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: '1' } }] }, '/x?v=1#v=2', true],
  ];
  for (const [name, match, target, want] of q) it(name, () => expect(matches({ match }, target)).toBe(want));
});

describe('virtual hosts', () => {
  const rc = {
    virtualHosts: [
      { name: 'exact', domains: ['api.example.com', 'api.example.com:8080'], routes: [{ match: { prefix: '' }, route: to('exact') }] },
      { name: 'suffix-long', domains: ['*.api.example.com'], routes: [{ match: { prefix: '' }, route: to('x') }] },
      { name: 'suffix', domains: ['*.example.com'], routes: [{ match: { prefix: '' }, route: to('x') }] },
      { name: 'dash', domains: ['*-bar.example.org'], routes: [{ match: { prefix: '' }, route: to('x') }] },
      { name: 'prefix', domains: ['foo.*', 'web.example.net:*'], routes: [{ match: { prefix: '' }, route: to('x') }] },
      { name: 'any', domains: ['*'], routes: [{ match: { prefix: '' }, route: to('x') }] },
    ],
  };
  const t = compileRoutes(rc);
  const cases: Array<[string, string]> = [
    ['api.example.com', 'exact'],
    ['API.Example.COM', 'exact'],
    ['api.example.com:8080', 'exact'],
    ['api.example.com:9090', 'any'], // the port is part of the host: neither the exact domain nor *.example.com matches it
    ['v1.api.example.com', 'suffix-long'],
    ['x.example.com', 'suffix'],
    ['example.com', 'any'], // *.example.com needs at least one character
    ['foo-bar.example.org', 'dash'],
    ['foo.example.org', 'prefix'],
    ['web.example.net:8443', 'prefix'],
    ['web.example.net', 'any'],
    ['other', 'any'],
  ];
  for (const [host, vh] of cases) it(`${host} -> ${vh}`, () => expect(t.virtualHost(host)?.name).toBe(vh));
  it('answers nothing without a match and refuses duplicate domains', () => {
    const only = compileRoutes({ virtualHosts: [{ name: 'a', domains: ['a.com'], routes: [{ match: { prefix: '/' }, route: to('a') }] }] });
    expect(only.match(request('/', { authority: 'b.com' }))).toBeUndefined();
    expect(only.match(request('/', { authority: 'a.com' }))?.virtualHost).toBe('a');
    expect(() => compileRoutes({ virtualHosts: [{ name: 'a', domains: ['a.com'] }, { name: 'b', domains: ['A.com'] }] })).toThrow(/already used/);
  });
  it('routes are first match in config order', () => {
    const table = compileRoutes(config([
      { name: 'first', match: { prefix: '/a' }, route: to('1') },
      { name: 'second', match: { path: '/a/b' }, route: to('2') },
    ]));
    expect(table.match(request('/a/b'))?.name).toBe('first');
    expect(table.match(request('/b'))).toBeUndefined();
  });
});

describe('forward actions', () => {
  const fwd = (route: RouteProto['route'], match: RouteProto['match'] = { prefix: '/' }) => compileRoutes(config([{ match, route }])).match(request('/'))!.action as ForwardAction;

  it('weighted clusters follow their weights within tolerance (seeded random), weight 0 never', () => {
    const a = compileRoutes(config([{ match: { prefix: '/' }, route: { weightedClusters: { clusters: [{ name: 'a', weight: { value: 80 } }, { name: 'b', weight: { value: 20 } }, { name: 'z', weight: { value: 0 } }] } } }]))
      .match(request('/'))!.action as ForwardAction;
    const random = seededRandom(42);
    const n = 100_000;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const c = a.pick(random).name;
      counts[c] = (counts[c] ?? 0) + 1;
    }
    expect(counts['a']! / n).toBeCloseTo(0.8, 2);
    expect(counts['b']! / n).toBeCloseTo(0.2, 2);
    expect(counts['z']).toBeUndefined();
  });
  it('weft.invalid-backend is marked invalid (500)', () => {
    const a = fwd({ weightedClusters: { clusters: [{ name: 'weft.invalid-backend', weight: { value: 1 } }] } });
    expect(a.pick(Math.random)).toMatchObject({ name: 'weft.invalid-backend', invalid: true });
  });
  it('timeout, idle timeout, retry policy', () => {
    const a = fwd({
      cluster: 'c',
      timeout: { seconds: 1, nanos: 500_000_000 },
      retryPolicy: { retryOn: 'gateway-error,connect-failure,retriable-status-codes,bogus', numRetries: { value: 3 }, perTryTimeout: { nanos: 250_000_000 }, retriableStatusCodes: [418] },
    });
    expect(a.timeoutMs).toBe(1500);
    expect(a.idleTimeoutMs).toBeUndefined();
    const r = a.retry!;
    expect([r.numRetries, r.perTryTimeoutMs]).toEqual([3, 250]);
    const cases: Array<[number, string | undefined, boolean]> = [
      [503, undefined, true],
      [500, undefined, false],
      [418, undefined, true],
      [409, undefined, false],
      [0, 'connect-failure', true], // gateway-error covers resets too
      [0, 'reset', true],
      [200, undefined, false],
    ];
    for (const [s, reset, want] of cases) expect(r.shouldRetry(s, reset as never), `${s} ${reset}`).toBe(want);
    expect(fwd({ cluster: 'c' }).timeoutMs).toBe(0);
    const only = fwd({ cluster: 'c', retryPolicy: { retryOn: 'connect-failure,refused-stream,retriable-4xx' } }).retry!;
    expect(only.numRetries).toBe(1); // Envoy's default when the policy is present
    expect(only.shouldRetry(0, 'reset')).toBe(false);
    expect(only.shouldRetry(0, 'refused-stream')).toBe(true);
    expect(only.shouldRetry(0, 'connect-failure')).toBe(true);
    expect(only.shouldRetry(409)).toBe(true);
    expect(only.shouldRetry(503)).toBe(false);
    const grpc = fwd({ cluster: 'c', retryPolicy: { retryOn: 'unavailable,5xx' } }).retry!;
    expect(grpc.shouldRetry(200, undefined, 14)).toBe(true);
    expect(grpc.shouldRetry(200, undefined, 13)).toBe(false);
    expect(grpc.shouldRetry(0, 'timeout')).toBe(true);
    const b = grpc.backoffMs(3, () => 0.999);
    expect(b).toBeLessThan(100);
    expect(b).toBeGreaterThan(90);
  });

  const rewrites: Array<[string, RouteProto['match'], RouteProto['route'], string, string]> = [
    ['prefix_rewrite on a prefix match keeps the rest and the query', { prefix: '/api' }, { cluster: 'c', prefixRewrite: '/v2' }, '/api/x?q=1', '/v2/x?q=1'],
    ['prefix_rewrite on a path_separated_prefix', { pathSeparatedPrefix: '/api' }, { cluster: 'c', prefixRewrite: '/v2' }, '/api', '/v2'],
    ['path_separated_prefix with rewrite / gives // as Envoy', { pathSeparatedPrefix: '/api' }, { cluster: 'c', prefixRewrite: '/' }, '/api/x', '//x'],
    ['prefix_rewrite replaces the case-insensitively matched part', { prefix: '/API', caseSensitive: { value: false } }, { cluster: 'c', prefixRewrite: '/b' }, '/api/x', '/b/x'],
    ['prefix_rewrite on an exact path replaces the path, keeps the query', { path: '/old' }, { cluster: 'c', prefixRewrite: '/new' }, '/old?x', '/new?x'],
    ['prefix_rewrite on a regex match replaces the whole path', { safeRegex: { regex: '/o.*' } }, { cluster: 'c', prefixRewrite: '/n' }, '/old/y?x', '/n?x'],
    ['empty prefix + rewrite prepends', { prefix: '' }, { cluster: 'c', prefixRewrite: '/p' }, '/a', '/p/a'],
    ['regex_rewrite with groups, query kept', { prefix: '/' }, { cluster: 'c', regexRewrite: { pattern: { regex: '^/v(\\d+)/(.*)$' }, substitution: '/\\2?ver=\\1' } }, '/v1/users?x=1', '/users?ver=1?x=1'],
    ['regex_rewrite replaces all matches', { prefix: '/' }, { cluster: 'c', regexRewrite: { pattern: { regex: 'a' }, substitution: 'b' } }, '/aaa?a', '/bbb?a'],
  ];
  for (const [name, match, route, target, want] of rewrites) {
    it(name, () => {
      const r = compileRoutes(config([{ match, route }])).match(request(target))!;
      expect((r.action as ForwardAction).rewrite(target)).toBe(want);
    });
  }
  it('no rewrite gives undefined; host_rewrite_literal on the choice, weighted entry overriding', () => {
    expect(fwd({ cluster: 'c' }).rewrite('/x')).toBeUndefined();
    expect(fwd({ cluster: 'c', hostRewriteLiteral: 'h.internal' }).pick(Math.random).hostRewrite).toBe('h.internal');
    const w = fwd({ hostRewriteLiteral: 'route.h', weightedClusters: { clusters: [{ name: 'a', weight: { value: 1 }, hostRewriteLiteral: 'entry.h' }] } });
    expect(w.pick(Math.random).hostRewrite).toBe('entry.h');
  });
  it('mirrors with fractions', () => {
    const a = fwd({ cluster: 'c', requestMirrorPolicies: [{ cluster: 'm1' }, { cluster: 'm2', runtimeFraction: { defaultValue: { numerator: 25, denominator: 0 } } }] });
    const random = seededRandom(9);
    let n = 0;
    for (let i = 0; i < 20_000; i++) if (a.mirrors[1]!.sample(random)) n++;
    expect(a.mirrors[0]!.sample(() => 0.99)).toBe(true);
    expect(n / 20_000).toBeCloseTo(0.25, 1);
  });
  it('hash policy: header, cookie, query, source ip; terminal stops', () => {
    const a = fwd({ cluster: 'c', hashPolicy: [{ header: { headerName: 'X-User' } }, { cookie: { name: 'sid', ttl: { seconds: 60 }, path: '/' } }] });
    const hp = a.hashPolicy!;
    const h1 = hp.hash(request('/', { headers: { 'x-user': 'alice' } }));
    expect(h1).toBe(hp.hash(request('/', { headers: { 'x-user': 'alice' } })));
    expect(h1).not.toBe(hp.hash(request('/', { headers: { 'x-user': 'bob' } })));
    expect(hp.hash(request('/'))).toBeUndefined();
    expect(hp.hash(request('/', { headers: { cookie: 'a=1; sid="s1"' } }))).toBe(hp.hash(request('/', { headers: { cookie: 'sid=s1' } })));
    expect(hp.generateCookie).toEqual({ name: 'sid', ttlMs: 60_000, path: '/' });
    const t = fwd({ cluster: 'c', hashPolicy: [{ queryParameter: { name: 'u' }, terminal: true }, { connectionProperties: { sourceIp: true } }] }).hashPolicy!;
    expect(t.hash(request('/?u=1', { sourceIp: '10.0.0.1' }))).toBe(t.hash(request('/?u=1', { sourceIp: '10.0.0.2' })));
    expect(t.hash(request('/', { sourceIp: '10.0.0.1' }))).not.toBe(t.hash(request('/', { sourceIp: '10.0.0.2' })));
  });
});

describe('redirects (Envoy newUri)', () => {
  const loc = (redirect: NonNullable<RouteProto['redirect']>, target: string, init: ReqInit = {}, match: RouteProto['match'] = { prefix: '/' }) => {
    const r = compileRoutes(config([{ match, redirect }])).match(request(target, init))!;
    const a = r.action as RedirectAction;
    return `${a.status} ${a.location(request(target, init))}`;
  };
  const cases: Array<[string, NonNullable<RouteProto['redirect']>, string, ReqInit, string, RouteProto['match']?]> = [
    ['default 301 keeps everything', {}, '/a?b', { authority: 'h.com' }, '301 http://h.com/a?b'],
    ['https redirect drops :80', { schemeRedirect: 'https' }, '/a', { authority: 'h.com:80' }, '301 https://h.com/a'],
    ['https redirect keeps a non-default port', { schemeRedirect: 'https' }, '/a', { authority: 'h.com:8080' }, '301 https://h.com:8080/a'],
    ['https_redirect bool', { httpsRedirect: true }, '/', { authority: 'h.com' }, '301 https://h.com/'],
    ['http redirect from https drops :443', { schemeRedirect: 'http' }, '/', { authority: 'h.com:443', scheme: 'https' }, '301 http://h.com/'],
    ['same scheme keeps :80', { pathRedirect: '/x' }, '/', { authority: 'h.com:80' }, '301 http://h.com:80/x'],
    ['port redirect replaces the port', { portRedirect: 8443 }, '/', { authority: 'h.com:8080' }, '301 http://h.com:8443/'],
    ['a default port redirect is left out (Gateway API; Envoy writes it)', { schemeRedirect: 'https', portRedirect: 443 }, '/', { authority: 'h.com' }, '301 https://h.com/'],
    ['a listener port kept by port redirect', { hostRedirect: 'example.org', portRedirect: 8080 }, '/x', { authority: 'a:8080' }, '301 http://example.org:8080/x'],
    ['host redirect', { hostRedirect: 'new.com' }, '/p?q', { authority: 'old.com:8080' }, '301 http://new.com/p?q'],
    ['host and port', { hostRedirect: 'new.com', portRedirect: 81 }, '/', {}, '301 http://new.com:81/'],
    ['IPv6 host, port dropped by port redirect', { portRedirect: 9 }, '/', { authority: '[::1]:8080' }, '301 http://[::1]:9/'],
    ['path redirect keeps the query', { pathRedirect: '/new' }, '/old?x=1', {}, '301 http://example.com/new?x=1'],
    ['path redirect with its own query wins and is not stripped', { pathRedirect: '/new?y=2', stripQuery: true }, '/old?x=1', {}, '301 http://example.com/new?y=2'],
    ['strip query', { stripQuery: true }, '/a?x=1', {}, '301 http://example.com/a'],
    ['prefix rewrite', { prefixRewrite: '/v2' }, '/v1/users?x', {}, '301 http://example.com/v2/users?x', { prefix: '/v1' }],
    ['prefix rewrite + strip query', { prefixRewrite: '/v2', stripQuery: true }, '/v1/users?x', {}, '301 http://example.com/v2/users', { prefix: '/v1' }],
    ['regex rewrite', { regexRewrite: { pattern: { regex: '^/(\\w+)$' }, substitution: '/x/\\1' } }, '/abc', {}, '301 http://example.com/x/abc'],
    ['302', { responseCode: 1 }, '/', {}, '302 http://example.com/'],
    ['303', { responseCode: 2 }, '/', {}, '303 http://example.com/'],
    ['307', { responseCode: 3 }, '/', {}, '307 http://example.com/'],
    ['308', { responseCode: 4 }, '/', {}, '308 http://example.com/'],
    ['x-forwarded-proto decides the port elision', { schemeRedirect: 'https' }, '/', { authority: 'h.com:80', scheme: 'https', headers: { 'x-forwarded-proto': 'http' } }, '301 https://h.com/'],
  ];
  for (const [name, r, target, init, want, match] of cases) it(name, () => expect(loc(r, target, init, match)).toBe(want));
});

describe('direct responses and header mutations', () => {
  it('direct response', () => {
    const r = compileRoutes(config([{ match: { prefix: '/' }, directResponse: { status: 503, body: { inlineString: 'down' } } }])).match(request('/'))!;
    expect(r.action).toMatchObject({ kind: 'direct', status: 503, body: 'down' });
    expect(() => compileRoutes(config([{ match: { prefix: '/' }, directResponse: { status: 99 } }]))).toThrow(/direct_response\.status/);
  });

  it('append actions, removals first, levels route -> virtual host -> configuration', () => {
    const t = compileRoutes({
      requestHeadersToAdd: [{ header: { key: 'x-level', value: 'config' }, appendAction: 2 }],
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          requestHeadersToAdd: [{ header: { key: 'x-vh', value: 'v' } }],
          routes: [
            {
              match: { prefix: '/' },
              requestHeadersToRemove: ['x-drop', 'x-append'],
              requestHeadersToAdd: [
                { header: { key: 'x-append', value: 'r' } }, // default: APPEND_IF_EXISTS_OR_ADD (after its removal: just r)
                { header: { key: 'x-add', value: 'new' }, appendAction: 1 }, // ADD_IF_ABSENT
                { header: { key: 'x-absent-add', value: 'yes' }, appendAction: 1 },
                { header: { key: 'x-over', value: 'o' }, appendAction: 2 }, // OVERWRITE_IF_EXISTS_OR_ADD
                { header: { key: 'x-over-if', value: 'o' }, appendAction: 3 }, // OVERWRITE_IF_EXISTS: absent, nothing
                { header: { key: 'x-keep', value: 'k' }, append: { value: true } },
                { header: { key: 'x-level', value: 'route' }, append: { value: false } },
                { header: { key: 'x-empty', value: '' } }, // skipped: keep_empty_value false
                { header: { key: 'x-pct', value: '100%%' }, appendAction: 2 },
              ],
              route: { weightedClusters: { clusters: [{ name: 'a', weight: { value: 1 }, requestHeadersToAdd: [{ header: { key: 'x-entry', value: 'e' } }] }] } },
            },
          ],
        },
      ],
    });
    const r = t.match(request('/'))!;
    const h = new FlatHeaders(['x-drop', '1', 'x-append', 'old', 'x-add', 'old', 'x-over', 'a', 'x-over', 'b', 'x-keep', 'k0']);
    applyHeaderOps((r.action as ForwardAction).pick(Math.random).requestHeaders, h);
    expect(h.list).toEqual(['x-add', 'old', 'x-keep', 'k0', 'x-entry', 'e', 'x-append', 'r', 'x-absent-add', 'yes', 'x-over', 'o', 'x-keep', 'k', 'x-pct', '100%', 'x-vh', 'v', 'x-level', 'config']);
    expect(() => compileRoutes(config([{ match: { prefix: '/' }, route: to('c'), requestHeadersToAdd: [{ header: { key: ':path', value: '/' } }] }]))).toThrow(/cannot be set/);
  });
});

describe('per-route fault and CORS from typed_per_filter_config', () => {
  const any = (typeUrl: string, value: Uint8Array) => ({ typeUrl: `type.googleapis.com/${typeUrl}`, value });
  const wrap = (typeUrl: string, value: Uint8Array) =>
    any('envoy.config.route.v3.FilterConfig', envoy.config.route.v3.FilterConfig.encode({ config: any(typeUrl, value), isOptional: true }).finish());
  const fault = (f: Parameters<typeof envoy.extensions.filters.http.fault.v3.HTTPFault.encode>[0]) =>
    wrap('envoy.extensions.filters.http.fault.v3.HTTPFault', envoy.extensions.filters.http.fault.v3.HTTPFault.encode(f).finish());
  const cors = (c: Parameters<typeof envoy.extensions.filters.http.cors.v3.CorsPolicy.encode>[0]) =>
    wrap('envoy.extensions.filters.http.cors.v3.CorsPolicy', envoy.extensions.filters.http.cors.v3.CorsPolicy.encode(c).finish());

  it('fault delay and abort by percentage with a seeded random', () => {
    const r = compileRoutes(config([{
      match: { prefix: '/' },
      route: to('c'),
      typedPerFilterConfig: {
        'envoy.filters.http.fault': fault({
          delay: { fixedDelay: { seconds: 2 }, percentage: { numerator: 30, denominator: 0 } },
          abort: { httpStatus: 503, percentage: { numerator: 1000, denominator: 1 } }, // 10% (of ten thousand)
        }),
      },
    }])).match(request('/'))!;
    const f = r.fault!;
    const random = seededRandom(5);
    let delayed = 0;
    let aborted = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const d = f.delayMs(request('/'), random);
      if (d) {
        expect(d).toBe(2000);
        delayed++;
      }
      const a = f.abort(request('/'), random);
      if (a) {
        expect(a.httpStatus).toBe(503);
        aborted++;
      }
    }
    expect(delayed / n).toBeCloseTo(0.3, 1);
    expect(aborted / n).toBeCloseTo(0.1, 1);
    expect(f.applies(request('/'))).toBe(true);
  });
  it('fault: grpc abort, header matchers, absent percentage is 0%, route overrides virtual host', () => {
    const t = compileRoutes({
      virtualHosts: [{
        name: 'vh',
        domains: ['*'],
        typedPerFilterConfig: { 'envoy.filters.http.fault': fault({ abort: { httpStatus: 500 } }) },
        routes: [
          { name: 'inherit', match: { prefix: '/inherit' }, route: to('c') },
          { name: 'own', match: { prefix: '/' }, route: to('c'), typedPerFilterConfig: { 'envoy.filters.http.fault': fault({ abort: { grpcStatus: 14, percentage: { numerator: 100 } }, headers: [{ name: 'x-test', presentMatch: true }] }) } },
        ],
      }],
    });
    const inherited = t.match(request('/inherit'))!.fault!;
    expect(inherited.abort(request('/'), () => 0)).toBeUndefined();
    const own = t.match(request('/x'))!.fault!;
    expect(own.abort(request('/'), () => 0.5)).toEqual({ httpStatus: 0, grpcStatus: 14 });
    expect(own.applies(request('/'))).toBe(false);
    expect(own.applies(request('/', { headers: { 'x-test': '1' } }))).toBe(true);
  });
  it('CORS preflight answer, simple request headers, origin matching', () => {
    const r = compileRoutes(config([{
      match: { prefix: '/' },
      route: to('c'),
      typedPerFilterConfig: {
        'envoy.filters.http.cors': cors({
          allowOriginStringMatch: [{ exact: 'https://a.com' }, { suffix: '.b.com' }],
          allowMethods: 'GET,POST',
          allowHeaders: 'x-a',
          exposeHeaders: 'x-e',
          maxAge: '600',
          allowCredentials: { value: true },
        }),
      },
    }])).match(request('/'))!;
    const c = r.cors!;
    const pre = (origin: string) => {
      const out = new FlatHeaders([]);
      const verdict = c.preflight(request('/', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } }), out, Math.random);
      return [verdict, out.list] as const;
    };
    expect(pre('https://x.b.com')).toEqual([1, ['access-control-allow-origin', 'https://x.b.com', 'access-control-allow-credentials', 'true', 'access-control-allow-methods', 'GET,POST', 'access-control-allow-headers', 'x-a', 'access-control-max-age', '600']]);
    expect(pre('https://evil.com')).toEqual([0, []]);
    const simple = new FlatHeaders(['content-type', 'text/plain']);
    c.decorate(request('/', { headers: { origin: 'https://a.com' } }), simple);
    expect(simple.list).toEqual(['content-type', 'text/plain', 'access-control-allow-origin', 'https://a.com', 'access-control-allow-credentials', 'true', 'access-control-expose-headers', 'x-e']);
    const none = new FlatHeaders([]);
    c.decorate(request('/', { headers: { origin: 'https://evil.com' } }), none);
    expect(none.list).toEqual([]);
  });
  it('keeps other filters\' configs and refuses undecodable required ones', () => {
    const rbac = any('envoy.extensions.filters.http.rbac.v3.RBACPerRoute', new Uint8Array([]));
    const r = compileRoutes(config([{ match: { prefix: '/' }, route: to('c'), typedPerFilterConfig: { 'envoy.filters.http.rbac': rbac } }])).match(request('/'))!;
    expect(r.filterConfigs.get('envoy.filters.http.rbac')?.typeUrl).toContain('RBACPerRoute');
    const bad = any('envoy.extensions.filters.http.fault.v3.HTTPFault', new Uint8Array([0xff, 0xff]));
    expect(() => compileRoutes(config([{ match: { prefix: '/' }, route: to('c'), typedPerFilterConfig: { 'envoy.filters.http.fault': bad } }]))).toThrow(/cannot decode/);
  });
});

describe('decoded from the wire', () => {
  it('compiles a RouteConfiguration encoded and decoded through core/xds/pb.ts (wrappers, Durations, enums as numbers)', () => {
    const RC = envoy.config.route.v3.RouteConfiguration;
    const bytes = RC.encode({
      name: 'http.80',
      virtualHosts: [{
        name: 'shop:80',
        domains: ['shop.example.com', 'shop.example.com:*'],
        routes: [
          { name: 'exact', match: { path: '/cart', caseSensitive: { value: false } }, route: { cluster: 'outbound|80||cart.svc', timeout: { seconds: 3 }, retryPolicy: { retryOn: '5xx', numRetries: { value: 2 } } } },
          { name: 'split', match: { pathSeparatedPrefix: '/api', headers: [{ name: 'x-env', stringMatch: { exact: 'canary' }, invertMatch: true, treatMissingHeaderAsEmpty: true }] }, route: { weightedClusters: { clusters: [{ name: 'v1', weight: { value: 90 } }, { name: 'v2', weight: { value: 10 } }] }, prefixRewrite: '/v1' } },
          { name: 'moved', match: { prefix: '/old' }, redirect: { pathRedirect: '/new', responseCode: envoy.config.route.v3.RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT } },
          { name: 'tea', match: { prefix: '/' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } },
        ],
      }],
    }).finish();
    const decoded = RC.decode(bytes);
    // The decoded shape: oneof members null, wrappers and Durations objects, enums numbers.
    expect(decoded.virtualHosts![0]!.routes![0]!.match!.prefix).toBeNull();
    expect(decoded.virtualHosts![0]!.routes![2]!.redirect!.responseCode).toBe(4);
    const t = compileRoutes(decoded);
    const auth = { authority: 'SHOP.example.com:8080' };
    const cart = t.match(request('/CART?x', auth))!;
    expect(cart.name).toBe('exact');
    expect((cart.action as ForwardAction).timeoutMs).toBe(3000);
    expect((cart.action as ForwardAction).retry!.numRetries).toBe(2);
    const api = t.match(request('/api/items', auth))!;
    expect(api.name).toBe('split');
    expect((api.action as ForwardAction).pick(() => 0.95).name).toBe('v2');
    expect((api.action as ForwardAction).rewrite('/api/items')).toBe('/v1/items');
    expect(t.match(request('/api/items', { ...auth, headers: { 'x-env': 'canary' } }))!.name).toBe('tea');
    const moved = t.match(request('/old?q', auth))!.action as RedirectAction;
    expect([moved.status, moved.location(request('/old?q', auth))]).toEqual([308, 'http://SHOP.example.com:8080/new?q']);
    expect(t.match(request('/x', { authority: 'other.com' }))).toBeUndefined();
    void google;
  });
});

describe('regex literal prefix (a pre-test, never a change of meaning)', async () => {
  const { literalPrefix } = await import('./request-match.ts');
  const cases: Array<[string, string]> = [
    ['/items/3/[0-9]+', '/items/3/'],
    ['/a|/b', ''],
    ['(?i)/abc', ''],
    ['/ab?c', '/a'],
    ['/ab*', '/a'],
    ['/ab{2}', '/a'],
    ['/a\\.b', '/a'],
    ['.*', ''],
  ];
  for (const [p, want] of cases) it(`${p} -> ${JSON.stringify(want)}`, () => expect(literalPrefix(p)).toBe(want));
});
