import { describe, expect, it } from 'vitest';
import { EDIT_APPEND, EDIT_REMOVE, EDIT_SET, editFields, ResponseEdits } from './response-edits.ts';
import { RecordedExchange } from './recorded-exchange.ts';

describe('ResponseEdits', () => {
  it("makes one filter's edits, or all of them, in the order they were asked", () => {
    const e = new ResponseEdits();
    e.record(1, EDIT_SET, 'x-a', '1');
    e.record(0, EDIT_APPEND, 'vary', 'origin');
    e.record(1, EDIT_REMOVE, 'server', '');
    e.record(1, EDIT_APPEND, 'x-a', '2');
    expect(e.size).toBe(4);
    const x = new RecordedExchange({}, { status: 200, headers: { server: 'up', vary: 'accept', 'x-a': '0' } });
    e.applyTo(x, 1);
    expect(Object.fromEntries(x.responseHeaders)).toEqual({ vary: 'accept', 'x-a': '1, 2' });
    e.applyTo(x, 0);
    expect(x.responseHeader('vary')).toBe('accept, origin');
  });
});

describe('RecordedExchange (weft plugin test) keeps response changes made before the response', () => {
  it('makes them when the response arrives, over what the upstream sent; without a response, none', () => {
    const x = new RecordedExchange({ headers: { 'x-in': '1' } });
    x.setResponseHeader('X-Limit', '5');
    x.appendResponseHeader('vary', 'origin');
    x.removeResponseHeader('server');
    expect(x.responseStatus()).toBe(0);
    expect(x.responseHeaders.size).toBe(0);
    x.setResponse({ status: 200, headers: { server: 'up', vary: 'accept', 'x-limit': '100' } });
    expect(Object.fromEntries(x.responseHeaders)).toEqual({ vary: 'accept, origin', 'x-limit': '5' });
    // after the response arrived, a change is made at once
    x.setResponseHeader('x-late', 'l');
    expect(x.responseHeader('x-late')).toBe('l');
    expect(x.responseEdits).toBeUndefined();
  });
});

describe('editFields', () => {
  it('set replaces every field of the name, append adds one, remove drops them all; others keep their order', () => {
    const f = ['a', '1', 'b', '2', 'a', '3'];
    editFields(f, EDIT_SET, 'a', 'x');
    expect(f).toEqual(['b', '2', 'a', 'x']);
    editFields(f, EDIT_APPEND, 'b', '4');
    expect(f).toEqual(['b', '2', 'a', 'x', 'b', '4']);
    editFields(f, EDIT_REMOVE, 'b', '');
    expect(f).toEqual(['a', 'x']);
  });
});
