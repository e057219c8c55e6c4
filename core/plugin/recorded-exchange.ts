/**
 * An HTTP exchange held in plain maps (`weft plugin test`, unit tests, the edge host): built from a
 * TestRequest / TestResponse (plugins/sdk/testing.ts), and the header changes a filter makes stay
 * visible afterwards for assertions. Header names are lower-case; an appended value joins the
 * existing one with ", " (one value per name, as the test format has it). Response-header changes
 * made before the response arrives are kept and made when it does, as a proxy makes them
 * (response-edits.ts); with no response, they are not made.
 */
import type { HttpExchangeView } from './contract.ts';
import { EDIT_APPEND, EDIT_REMOVE, EDIT_SET, ResponseEdits } from './response-edits.ts';
import { pseudoHeader } from './filter-outcome.ts';
import type { TestRequest, TestResponse } from '../../plugins/sdk/testing.ts';

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

function toMap(h: Record<string, string> | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (h) for (const [k, v] of Object.entries(h)) m.set(k.toLowerCase(), v);
  return m;
}

export class RecordedExchange implements HttpExchangeView {
  readonly requestHeaders: Map<string, string>;
  readonly responseHeaders = new Map<string, string>();
  status = 0;
  reqBody: Uint8Array;
  resBody: Uint8Array = EMPTY;
  /** response-header changes asked for before the response arrived */
  responseEdits: ResponseEdits | undefined;
  private readonly req: TestRequest;
  private arrived = false;
  /** `:path`, `:method`, `:authority` as a filter set them (a proxy's view does the same) */
  private readonly pseudo = new Map<string, string>();

  constructor(req: TestRequest = {}, res?: TestResponse) {
    this.req = req;
    this.requestHeaders = toMap(req.headers);
    this.reqBody = req.body !== undefined ? encoder.encode(req.body) : EMPTY;
    if (res) this.setResponse(res);
  }

  /** the upstream's answer arrives: the response phases see it */
  setResponse(res: TestResponse): void {
    this.status = res.status;
    this.responseHeaders.clear();
    for (const [k, v] of toMap(res.headers)) this.responseHeaders.set(k, v);
    this.resBody = res.body !== undefined ? encoder.encode(res.body) : EMPTY;
    this.arrived = true;
    this.responseEdits?.applyTo(this, -1);
    this.responseEdits = undefined;
  }

  method(): string {
    return this.pseudo.get(':method') ?? this.req.method ?? 'GET';
  }
  scheme(): string {
    return this.req.scheme ?? 'http';
  }
  authority(): string {
    return this.pseudo.get(':authority') ?? this.req.authority ?? 'example.com';
  }
  path(): string {
    return this.pseudo.get(':path') ?? this.req.path ?? '/';
  }
  requestHeader(name: string): string | undefined {
    const n = name.toLowerCase();
    return n.charCodeAt(0) === 58 /* : */ ? pseudoHeader(this, n) : this.requestHeaders.get(n);
  }
  setRequestHeader(name: string, value: string): void {
    const n = name.toLowerCase();
    if (n === ':path' || n === ':method' || n === ':authority') this.pseudo.set(n, value);
    else if (n.charCodeAt(0) !== 58) this.requestHeaders.set(n, value);
  }
  appendRequestHeader(name: string, value: string): void {
    append(this.requestHeaders, name, value);
  }
  removeRequestHeader(name: string): void {
    this.requestHeaders.delete(name.toLowerCase());
  }
  requestBody(): Uint8Array {
    return this.reqBody;
  }
  responseStatus(): number {
    return this.status;
  }
  responseHeader(name: string): string | undefined {
    return this.responseHeaders.get(name.toLowerCase());
  }
  setResponseHeader(name: string, value: string): void {
    if (!this.arrived) return this.keep().record(0, EDIT_SET, name, value);
    this.responseHeaders.set(name.toLowerCase(), value);
  }
  appendResponseHeader(name: string, value: string): void {
    if (!this.arrived) return this.keep().record(0, EDIT_APPEND, name, value);
    append(this.responseHeaders, name, value);
  }
  removeResponseHeader(name: string): void {
    if (!this.arrived) return this.keep().record(0, EDIT_REMOVE, name, '');
    this.responseHeaders.delete(name.toLowerCase());
  }
  private keep(): ResponseEdits {
    return (this.responseEdits ??= new ResponseEdits());
  }
  responseBody(): Uint8Array {
    return this.resBody;
  }
  sourcePrincipal(): string {
    return this.req.sourcePrincipal ?? '';
  }
  sourceAddress(): string {
    return this.req.sourceAddress ?? '127.0.0.1:50000';
  }
}

function append(m: Map<string, string>, name: string, value: string): void {
  const k = name.toLowerCase();
  const old = m.get(k);
  m.set(k, old === undefined ? value : `${old}, ${value}`);
}
