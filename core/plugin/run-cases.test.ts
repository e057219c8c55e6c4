import { describe, expect, it } from 'vitest';
import type { EndpointPickerHandle, HttpExchangeView, HttpFilterHandle, L4PolicyHandle } from './contract.ts';
import { checkHttpFilterCase, checkL4Case, checkPickerCase } from './run-cases.ts';

// a filter written in plain TS over the same handle interface the runtime gives
const filter: HttpFilterHandle = {
  name: 't',
  phases: { requestHeaders: true, requestBody: false, responseHeaders: true, responseBody: false },
  onRequestHeaders(x: HttpExchangeView) {
    if (x.requestHeader('x-deny')) return { tag: 'respond', val: { status: 403, headers: [], body: 'no' } };
    if (x.path() === '/b') return { tag: 'route', val: 'beta' };
    x.setRequestHeader('x-seen', '1');
    x.removeRequestHeader('x-secret');
    return { tag: 'continue' };
  },
  onRequestBody: () => ({ tag: 'continue' }),
  onResponseHeaders(x) {
    x.setResponseHeader('x-status', String(x.responseStatus()));
    return { tag: 'continue' };
  },
  onResponseBody: () => ({ tag: 'continue' }),
};

describe('http-filter cases', () => {
  it('passes when everything expected holds', () => {
    expect(
      checkHttpFilterCase(filter, {
        name: 'a',
        request: { headers: { 'x-secret': 's' } },
        response: { status: 201 },
        expect: { action: 'continue', requestHeaders: { 'x-seen': '1', 'x-secret': null }, responseHeaders: { 'x-status': '201' } },
      }),
    ).toEqual([]);
    expect(checkHttpFilterCase(filter, { name: 'r', request: { path: '/b' }, expect: { action: 'route', route: 'beta' } })).toEqual([]);
  });
  it('names each difference', () => {
    expect(
      checkHttpFilterCase(filter, {
        name: 'b',
        request: { headers: { 'x-deny': '1' } },
        expect: { action: 'continue', status: 401, body: 'no', requestHeaders: { 'x-seen': '1' } },
      }),
    ).toEqual(['action: expected "continue", got "respond"', 'status: expected 401, got 403', 'request header x-seen: expected "1", got absent']);
    expect(checkHttpFilterCase(filter, { name: 'c', request: {}, expect: { route: 'beta' } })).toEqual(['route: expected "beta", got "(continue)"']);
  });
});

describe('l4 and picker cases', () => {
  const l4: L4PolicyHandle = { name: 'l', workloads: [], check: (c) => (c.sourcePrincipal ? { tag: 'allow' } : { tag: 'deny', val: 'plaintext' }) };
  it('compares decisions', () => {
    expect(checkL4Case(l4, { name: 'a', connection: { sourcePrincipal: 'spiffe://x' }, expect: { decision: 'allow' } })).toEqual([]);
    expect(checkL4Case(l4, { name: 'b', connection: {}, expect: { decision: 'allow' } })).toEqual(['decision: expected allow, got deny ("plaintext")']);
  });
  const picker: EndpointPickerHandle = {
    name: 'p',
    pick: (_x, cands) => cands.map((c, i) => [i, c.metrics.find(([k]) => k === 'load')?.[1] ?? 0] as const).sort((a, b) => a[1] - b[1]).map(([i]) => i),
  };
  it('compares orders', () => {
    const candidates = [
      { address: 'a:1', metrics: { load: 5 } },
      { address: 'b:1', metrics: { load: 1 } },
    ];
    expect(checkPickerCase(picker, { name: 'a', candidates, expect: { order: [1, 0] } })).toEqual([]);
    expect(checkPickerCase(picker, { name: 'b', candidates, expect: { order: [0, 1] } })).toEqual(['order: expected [0,1], got [1,0]']);
  });
});
