/**
 * One request on the edge as core sees it: the router's RouteRequest and the plugins' exchange view
 * (core/plugin/plugin-run.ts) over a web `Request`. Headers are read from the request's own
 * `Headers`; the first change (a plugin's) copies them, and the copy is what the route table
 * matches and what goes upstream, so a request no plugin touches copies nothing until the forward.
 *
 * Repeated headers: the web `Headers` joins values with `, ` where Envoy (and the Node gateway)
 * join with `,`; header matchers over repeated headers can differ by that space.
 */
import type { PluginRunView } from '../../core/plugin/plugin-run.ts';
import { EDIT_APPEND, EDIT_REMOVE, EDIT_SET, editFields, ResponseEdits, type EditKind } from '../../core/plugin/response-edits.ts';
import type { RouteRequest } from '../../core/route/types.ts';

const EMPTY = new Uint8Array(0);

export class EdgeRequest implements RouteRequest {
  #headers: Headers;
  #copied = false;
  #method: string;
  #target: string;
  #authority: string;
  #view: EdgeExchangeView | undefined;
  /** Whether a plugin changed the request (headers, method, path or authority). */
  mutated = false;

  constructor(
    readonly request: Request,
    readonly scheme: 'http' | 'https',
    authority: string,
    target: string,
    readonly sourceIp: string,
  ) {
    this.#headers = request.headers;
    this.#method = request.method;
    this.#target = target;
    this.#authority = authority;
  }

  // ---- RouteRequest
  get method(): string {
    return this.#method;
  }
  get authority(): string {
    return this.#authority;
  }
  get target(): string {
    return this.#target;
  }
  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }

  /** The request headers as they are now (the request's own until a change copies them). */
  get headers(): Headers {
    return this.#headers;
  }

  /** A copy to build the upstream request from (the request's own `Headers` are immutable in some runtimes). */
  upstreamHeaders(): Headers {
    if (this.#copied) {
      this.#copied = false; // the plugins are done with it: hand it over instead of copying again
      return this.#headers;
    }
    return new Headers(this.#headers);
  }

  #writable(): Headers {
    this.mutated = true;
    if (!this.#copied) {
      this.#headers = new Headers(this.#headers);
      this.#copied = true;
    }
    return this.#headers;
  }

  /** The plugins' view of this request (made once, when plugins run). */
  view(): EdgeExchangeView {
    return (this.#view ??= new EdgeExchangeView(this));
  }

  setMethod(v: string): void {
    this.#method = v;
    this.mutated = true;
  }
  setTarget(v: string): void {
    this.#target = v;
    this.mutated = true;
  }
  setAuthority(v: string): void {
    this.#authority = v;
    this.mutated = true;
  }
  /** The headers to change (copied from the request's on the first change). */
  writable(): Headers {
    return this.#writable();
  }
}

/** The exchange as a plugin guest sees and changes it (core/plugin/contract.ts HttpExchangeView). */
export class EdgeExchangeView implements PluginRunView {
  #body: Uint8Array = EMPTY;
  #status = 0;
  #response: string[] | undefined;
  /** The filter being called (PluginRun sets it), for the response edits of a request phase. */
  filterIndex = 0;
  /** Response-header changes asked for before the response exists (core/plugin/response-edits.ts). */
  responseEdits: ResponseEdits | undefined;

  constructor(readonly req: EdgeRequest) {}

  method(): string {
    return this.req.method;
  }
  scheme(): string {
    return this.req.scheme;
  }
  authority(): string {
    return this.req.authority;
  }
  path(): string {
    return this.req.target;
  }
  requestHeader(name: string): string | undefined {
    const n = name.toLowerCase();
    if (n.charCodeAt(0) === 58 /* : */) return this.#pseudo(n);
    return this.req.headers.get(n) ?? undefined;
  }
  setRequestHeader(name: string, value: string): void {
    const n = name.toLowerCase();
    if (n.charCodeAt(0) === 58) return this.#setPseudo(n, value);
    this.req.writable().set(n, value);
  }
  appendRequestHeader(name: string, value: string): void {
    const n = name.toLowerCase();
    if (n.charCodeAt(0) === 58) return this.#setPseudo(n, value);
    this.req.writable().append(n, value);
  }
  removeRequestHeader(name: string): void {
    const n = name.toLowerCase();
    if (n.charCodeAt(0) === 58 || !this.req.headers.has(n)) return;
    this.req.writable().delete(n);
  }
  requestBody(): Uint8Array {
    return this.#body;
  }
  setRequestBody(body: Uint8Array): void {
    this.#body = body;
  }
  responseStatus(): number {
    return this.#status;
  }
  responseHeader(name: string): string | undefined {
    const f = this.#response;
    if (f === undefined) return undefined;
    const n = name.toLowerCase();
    let out: string | undefined;
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) out = out === undefined ? f[i + 1] : `${out},${f[i + 1]}`;
    return out;
  }
  // a pseudo-header (`:status`) is not the guest's to change: Headers would refuse its name
  setResponseHeader(name: string, value: string): void {
    this.#editResponse(EDIT_SET, name, value);
  }
  appendResponseHeader(name: string, value: string): void {
    this.#editResponse(EDIT_APPEND, name, value);
  }
  removeResponseHeader(name: string): void {
    this.#editResponse(EDIT_REMOVE, name, '');
  }
  /** in the response phase on the head itself; before it, kept for it (core/plugin/response-edits.ts) */
  #editResponse(kind: EditKind, name: string, value: string): void {
    const n = name.toLowerCase();
    if (n.charCodeAt(0) === 58 /* : */) return;
    const f = this.#response;
    if (f !== undefined) editFields(f, kind, n, value);
    else (this.responseEdits ??= new ResponseEdits()).record(this.filterIndex, kind, n, value);
  }
  responseBody(): Uint8Array {
    return EMPTY;
  }
  setResponse(status: number, fields: string[]): void {
    this.#status = status;
    this.#response = fields;
  }
  sourcePrincipal(): string {
    return ''; // the edge has no mesh identity for its clients
  }
  sourceAddress(): string {
    return this.req.sourceIp;
  }

  #pseudo(n: string): string | undefined {
    switch (n) {
      case ':method':
        return this.req.method;
      case ':path':
        return this.req.target;
      case ':authority':
        return this.req.authority;
      case ':scheme':
        return this.req.scheme;
      case ':status':
        return this.#status === 0 ? undefined : String(this.#status);
      default:
        return undefined;
    }
  }

  #setPseudo(n: string, value: string): void {
    if (n === ':path') this.req.setTarget(value);
    else if (n === ':authority') this.req.setAuthority(value);
    else if (n === ':method') this.req.setMethod(value);
  }
}
