/**
 * EdgeRequest / EdgeExchangeView: what routing and the plugins read and change of a web Request
 * (copy on first write, pseudo headers, the response head in the response phase).
 */
import { describe, expect, it } from 'vitest';
import { EdgeRequest } from './edge-request.ts';

const make = () => new EdgeRequest(new Request('http://h/a?b=1', { method: 'POST', headers: { host: 'api.example.com', 'x-a': '1', 'x-b': '2' }, body: 'x' }), 'https', 'api.example.com', '/a?b=1', '10.0.0.1');

describe('EdgeRequest', () => {
  it('reads the request as routing sees it', () => {
    const r = make();
    expect([r.method, r.scheme, r.authority, r.target, r.header('x-a'), r.header('nope'), r.sourceIp]).toEqual(['POST', 'https', 'api.example.com', '/a?b=1', '1', undefined, '10.0.0.1']);
    expect(r.mutated).toBe(false);
  });

  it('gives plugins the HttpExchangeView: pseudo headers, changes seen by routing, the original untouched', () => {
    const r = make();
    const v = r.view();
    expect([v.method(), v.scheme(), v.authority(), v.path(), v.requestHeader(':method'), v.requestHeader(':authority'), v.requestHeader('X-A')]).toEqual(['POST', 'https', 'api.example.com', '/a?b=1', 'POST', 'api.example.com', '1']);
    v.setRequestHeader('X-A', 'changed');
    v.appendRequestHeader('x-c', '3');
    v.removeRequestHeader('x-b');
    v.removeRequestHeader('x-absent');
    v.setRequestHeader(':path', '/other');
    v.setRequestHeader(':authority', 'b.example.com');
    expect(r.mutated).toBe(true);
    expect([r.header('x-a'), r.header('x-b'), r.header('x-c'), r.target, r.authority]).toEqual(['changed', undefined, '3', '/other', 'b.example.com']);
    expect(r.request.headers.get('x-a')).toBe('1');
    const up = r.upstreamHeaders();
    expect(up.get('x-a')).toBe('changed');
  });

  it('copies the headers for the upstream when no plugin changed them', () => {
    const r = make();
    const up = r.upstreamHeaders();
    up.set('x-a', 'upstream');
    expect(r.request.headers.get('x-a')).toBe('1');
  });

  it('keeps response changes asked for before the response, by filter, for the response head', () => {
    const v = make().view();
    v.filterIndex = 1;
    v.setResponseHeader('X-A', '1');
    v.removeResponseHeader('server');
    v.appendResponseHeader(':status', '500');
    v.filterIndex = 0;
    v.appendResponseHeader('vary', 'origin');
    expect(v.responseEdits?.size).toBe(3);
    const fields = ['server', 'x', 'vary', 'accept'];
    v.setResponse(200, fields);
    v.responseEdits!.applyTo(v, 0);
    expect(fields).toEqual(['server', 'x', 'vary', 'accept', 'vary', 'origin']);
    v.responseEdits!.applyTo(v, 1);
    expect(fields).toEqual(['vary', 'accept', 'vary', 'origin', 'x-a', '1']);
  });

  it('gives the response phase the response head to change in place', () => {
    const v = make().view();
    expect(v.responseStatus()).toBe(0);
    const fields = ['content-type', 'text/plain', 'x-r', '1', 'x-r', '2'];
    v.setResponse(201, fields);
    expect([v.responseStatus(), v.requestHeader(':status'), v.responseHeader('X-R')]).toEqual([201, '201', '1,2']);
    v.setResponseHeader('x-r', '3');
    v.appendResponseHeader('X-New', 'n');
    v.removeResponseHeader('content-type');
    expect(fields).toEqual(['x-r', '3', 'x-new', 'n']);
    expect(v.sourceAddress()).toBe('10.0.0.1');
  });
});
