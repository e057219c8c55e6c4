/**
 * The host's side of weft:plugin@0.2.0's filter calls (plugins/wit/weft-plugin.wit, `filter`): the
 * wanted headers' values as the call's argument, and the outcome string read back into header
 * changes on the exchange and an action. The guest's side is plugins/sdk/outcome.ts; the two are
 * checked against each other in filter-outcome.test.ts.
 *
 * Why a string: measured in process with the proxy's own work between calls (the gateway's case,
 * caches cold), a QuickJS guest's call took 4.6 us when it read one header and made two changes
 * through host calls, 3.6 us with the value passed as a list and a typed (action, changes) result,
 * and 2.7 us with one string in and one string out; an empty call took 1.9 us.
 */
import type { FilterAction, HttpExchangeView } from './contract.ts';

/** joins the wanted values in the argument */
export const SEP = '\u0000';
/** stands for an absent header in the argument */
export const ABSENT = '\u0001';

export const CONTINUE: FilterAction = Object.freeze({ tag: 'continue' });

export class OutcomeError extends Error {
  override name = 'OutcomeError';
}

/**
 * The argument of a request-phase call: the request headers named, in order. One name (the usual)
 * is its value itself, no concatenation.
 */
export function requestValues(x: HttpExchangeView, names: readonly string[]): string {
  let s = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += SEP;
    const n = names[i]!;
    s += n.charCodeAt(0) === 58 /* : */ ? present(pseudoHeader(x, n)) : present(x.requestHeader(n));
  }
  return s;
}

/** a request pseudo-header through the view's own accessor (every view has them; not every view reads `:path` by name) */
export function pseudoHeader(x: HttpExchangeView, n: string): string | undefined {
  switch (n) {
    case ':path':
      return x.path();
    case ':method':
      return x.method();
    case ':authority':
      return x.authority();
    case ':scheme':
      return x.scheme();
    default:
      return undefined;
  }
}

/** The argument of a response-phase call: the response headers named (`:status` too), in order. */
export function responseValues(x: HttpExchangeView, names: readonly string[]): string {
  let s = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += SEP;
    const n = names[i]!;
    s += n === ':status' ? String(x.responseStatus()) : present(x.responseHeader(n));
  }
  return s;
}

/** a value the argument can carry: a NUL or U+0001 (never in a valid field value) reads as absent */
function present(v: string | undefined): string {
  if (v === undefined || v.indexOf(SEP) >= 0 || v.indexOf(ABSENT) >= 0) return ABSENT;
  return v;
}

/**
 * Makes the outcome's header changes on `x`, in order, and returns its action (`continue` when it
 * names none; a later route or cluster entry replaces an earlier one). Throws OutcomeError on an
 * entry it cannot read or a name or value holding CR or LF; changes made before such an entry stay
 * (the caller fails the request by the plugin's failStrategy).
 */
export function applyOutcome(out: string, x: HttpExchangeView): FilterAction {
  let action = CONTINUE;
  let i = 0;
  const n = out.length;
  while (i < n) {
    const op = out.charCodeAt(i++);
    switch (op) {
      case 113 /* q */:
      case 97 /* a */:
      case 81 /* Q */:
      case 65 /* A */: {
        const e1 = fieldEnd(out, i);
        const e2 = fieldEnd(out, e1 + 1);
        const name = headerName(out, i, e1);
        const value = headerValue(out, e1 + 1, e2);
        if (op === 113) x.setRequestHeader(name, value);
        else if (op === 97) x.appendRequestHeader(name, value);
        else if (op === 81) x.setResponseHeader(name, value);
        else x.appendResponseHeader(name, value);
        i = e2 + 1;
        break;
      }
      case 120 /* x */:
      case 88 /* X */: {
        const e = fieldEnd(out, i);
        const name = headerName(out, i, e);
        if (op === 120) x.removeRequestHeader(name);
        else x.removeResponseHeader(name);
        i = e + 1;
        break;
      }
      case 114 /* r */:
      case 99 /* c */: {
        const e = fieldEnd(out, i);
        if (e === i) throw new OutcomeError(`an empty ${op === 114 ? 'route' : 'cluster'} name`);
        action = { tag: op === 114 ? 'route' : 'cluster', val: out.slice(i, e) };
        i = e + 1;
        break;
      }
      case 100 /* d */:
        return respond(out, i);
      default:
        throw new OutcomeError(`unknown entry '${String.fromCharCode(op)}' at ${i - 1}`);
    }
  }
  return action;
}

function respond(out: string, i: number): FilterAction {
  const e1 = fieldEnd(out, i);
  const status = Number(out.slice(i, e1));
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new OutcomeError(`respond: status '${out.slice(i, e1)}'`);
  const e2 = fieldEnd(out, e1 + 1);
  const count = Number(out.slice(e1 + 1, e2));
  if (!Number.isInteger(count) || count < 0) throw new OutcomeError(`respond: header count '${out.slice(e1 + 1, e2)}'`);
  i = e2 + 1;
  const headers: { name: string; value: string }[] = [];
  for (let k = 0; k < count; k++) {
    const a = fieldEnd(out, i);
    const b = fieldEnd(out, a + 1);
    headers.push({ name: headerName(out, i, a), value: headerValue(out, a + 1, b) });
    i = b + 1;
  }
  return { tag: 'respond', val: { status, headers, body: out.slice(i) } };
}

function fieldEnd(out: string, from: number): number {
  const e = out.indexOf(SEP, from);
  if (e < 0) throw new OutcomeError(`a field at ${from} is not ended by NUL`);
  return e;
}

function headerName(out: string, from: number, end: number): string {
  if (end === from) throw new OutcomeError(`an empty header name at ${from}`);
  const name = out.slice(from, end);
  if (hasLineBreak(name)) throw new OutcomeError(`header name ${JSON.stringify(name)} holds CR or LF`);
  return name;
}

function headerValue(out: string, from: number, end: number): string {
  const value = out.slice(from, end);
  if (hasLineBreak(value)) throw new OutcomeError(`the value of a header at ${from} holds CR or LF`);
  return value;
}

function hasLineBreak(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10) return true;
  }
  return false;
}
