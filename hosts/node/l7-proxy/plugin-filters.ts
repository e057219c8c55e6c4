/**
 * HTTP filter plugins on the L7 data path (design.md section 6): the HttpExchangeView the guests
 * read and change (core/plugin/contract.ts), over the engine's request head and, in the response
 * phase, the upstream's response head.
 *
 * Where they run (RouteHandler, HCM order): request-headers filters after the authorization
 * filters and BEFORE the route table lookup, so a header or `:path` they change can select another
 * route; response-headers filters in reverse order (Envoy's encoder order) on the upstream's head,
 * after the route's response_headers_to_add. Request-body: when a filter wants it and the request
 * has a body, the body is read whole (up to a limit, 413 over it) after the request-headers phase
 * and each such filter is called once with end-of-stream; then the route is matched and the body
 * forwarded as read. The response-body phase is not run (a filter asking for it gets its other
 * phases only).
 *
 * Cost: one PluginRun and one view per request that has filters, nothing per request otherwise.
 * The view copies the request's header list only on its first change (copy on write); reads scan
 * the engine's flat list in place.
 */
import type { HttpExchangeView } from '../../../core/plugin/contract.ts';
import { PluginRun as CorePluginRun, type PluginRunView } from '../../../core/plugin/plugin-run.ts';
import { EDIT_APPEND, EDIT_REMOVE, EDIT_SET, editFields, ResponseEdits, type EditKind } from '../../../core/plugin/response-edits.ts';
import { pseudoHeader } from '../../../core/plugin/filter-outcome.ts';
export { flatHeaders, type ReplacedResponse } from '../../../core/plugin/plugin-run.ts';
import type { DownstreamPeer, HeadMutation, RequestHeadView } from '../l7/index.ts';
import { fieldOf } from '../l7/handler.ts';

const EMPTY = new Uint8Array(0);

/** The exchange as a guest sees it. */
export class PluginExchangeView implements PluginRunView {
  /** The changed field list; undefined until the first change (reads go to the engine's list). */
  #fields: string[] | undefined;
  #method: string | undefined;
  #target: string | undefined;
  #authority: string | undefined;
  /**
   * Names a filter set, appended or removed (they are replaced wholesale when forwarded), in the
   * order first touched. An array: a filter touches one to a few names, where a Set's hash table
   * cost an allocation and a hash of the name on every request.
   */
  #touched: string[] | undefined;
  #status = 0;
  #response: string[] | undefined;
  #body: Uint8Array = EMPTY;
  /** The filter being called (PluginRun sets it), for the response edits of a request phase. */
  filterIndex = 0;
  /** Response-header changes asked for before the response exists (core/plugin/response-edits.ts). */
  responseEdits: ResponseEdits | undefined;

  constructor(readonly head: RequestHeadView) {}

  /** The request body as read for the request-body phase. */
  setRequestBody(body: Uint8Array): void {
    this.#body = body;
  }

  /** Whether a filter changed the request (then routing reads `changedHead()`). */
  get mutated(): boolean {
    return this.#fields !== undefined || this.#method !== undefined || this.#target !== undefined || this.#authority !== undefined;
  }

  /** The request as the filters left it, as the engine's head view (what the route table matches). */
  changedHead(): RequestHeadView {
    return new ChangedHead(this, this.head);
  }

  get currentFields(): readonly string[] {
    return this.#fields ?? this.head.headers;
  }
  field(name: string): string | undefined {
    return this.#fields === undefined ? this.head.header(name) : fieldOf(this.#fields, name);
  }

  method(): string {
    return this.#method ?? this.head.method;
  }
  scheme(): string {
    return this.head.scheme;
  }
  authority(): string {
    return this.#authority ?? this.head.authority;
  }

  // ---- HttpExchangeView: request
  path(): string {
    return this.#target ?? this.head.target;
  }
  requestHeader(name: string): string | undefined {
    const n = lower(name);
    if (n.charCodeAt(0) === 58 /* : */) return this.#pseudo(n);
    return this.field(n);
  }
  setRequestHeader(name: string, value: string): void {
    const n = lower(name);
    if (n.charCodeAt(0) === 58) return this.#setPseudo(n, value);
    editFields(this.#writable(n), EDIT_SET, n, value);
  }
  appendRequestHeader(name: string, value: string): void {
    const n = lower(name);
    if (n.charCodeAt(0) === 58) return this.#setPseudo(n, value);
    this.#writable(n).push(n, value);
  }
  removeRequestHeader(name: string): void {
    const n = lower(name);
    if (n.charCodeAt(0) === 58) return;
    if (this.#fields === undefined && this.head.header(n) === undefined) return;
    editFields(this.#writable(n), EDIT_REMOVE, n, '');
  }
  requestBody(): Uint8Array {
    return this.#body;
  }

  // ---- HttpExchangeView: response (set for the response-headers phase; before it, changes are kept for it)
  responseStatus(): number {
    return this.#status;
  }
  responseHeader(name: string): string | undefined {
    const f = this.#response;
    return f === undefined ? undefined : fieldOf(f, lower(name));
  }
  // a pseudo-header (`:status`) is not the guest's to change: the engine would write it as a field
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
    const n = lower(name);
    if (n.charCodeAt(0) === 58 /* : */) return;
    const f = this.#response;
    if (f !== undefined) editFields(f, kind, n, value);
    else (this.responseEdits ??= new ResponseEdits()).record(this.filterIndex, kind, n, value);
  }
  responseBody(): Uint8Array {
    return EMPTY;
  }
  sourcePrincipal(): string {
    return this.head.peerPrincipal ?? '';
  }
  sourceAddress(): string {
    const h = this.head;
    return h.remoteAddress.includes(':') ? `[${h.remoteAddress}]:${h.remotePort}` : `${h.remoteAddress}:${h.remotePort}`;
  }

  /** The response head the response phase reads and changes in place (the engine's list). */
  setResponse(status: number, fields: string[]): void {
    this.#status = status;
    this.#response = fields;
  }

  /**
   * The filters' request changes as the engine's mutation, merged into the route's: every touched
   * name is removed and its present values added back (order of set/append/remove calls kept), unless
   * the route sets that name itself (its request_headers_to_add apply after the filters, as Envoy's
   * router does after them). Method, path and authority changes go on unless the route rewrites them.
   */
  mergeInto(o: HeadMutation & { set?: readonly string[] }): void {
    const touched = this.#touched;
    if (touched !== undefined) {
      const f = this.#fields!;
      const routeSet = o.set;
      const remove = o.remove === undefined ? [] : [...o.remove];
      const add = o.add === undefined ? [] : [...o.add];
      for (let t = 0; t < touched.length; t++) {
        const name = touched[t]!;
        if (routeSet !== undefined && setsName(routeSet, name)) continue;
        remove.push(name);
        for (let i = 0; i < f.length; i += 2) if (f[i] === name) add.push(name, f[i + 1]!);
      }
      if (remove.length) o.remove = remove;
      if (add.length) o.add = add;
    }
    if (this.#method !== undefined && o.method === undefined) o.method = this.#method;
    if (this.#target !== undefined && o.target === undefined) o.target = this.#target;
    if (this.#authority !== undefined && o.authority === undefined) o.authority = this.#authority;
  }

  #writable(name: string): string[] {
    const t = (this.#touched ??= []);
    if (!t.includes(name)) t.push(name);
    return (this.#fields ??= this.head.headers.slice());
  }

  /** `:status` here; the request's pseudo-headers through the view's accessors (core's pseudoHeader) */
  #pseudo(n: string): string | undefined {
    if (n === ':status') return this.#status === 0 ? undefined : String(this.#status);
    return pseudoHeader(this, n);
  }

  #setPseudo(n: string, value: string): void {
    if (n === ':path') this.#target = value;
    else if (n === ':authority') this.#authority = value;
    else if (n === ':method') this.#method = value;
  }
}

/** The engine's head view over a changed request: every read but method, target, authority and fields goes to the head. */
class ChangedHead implements RequestHeadView {
  constructor(
    private readonly v: PluginExchangeView,
    private readonly h: RequestHeadView,
  ) {}
  get method(): string {
    return this.v.method();
  }
  get target(): string {
    return this.v.path();
  }
  get authority(): string {
    return this.v.authority();
  }
  get scheme(): 'http' | 'https' {
    return this.h.scheme;
  }
  get protocol(): RequestHeadView['protocol'] {
    return this.h.protocol;
  }
  get headers(): readonly string[] {
    return this.v.currentFields;
  }
  header(name: string): string | undefined {
    return this.v.field(name);
  }
  get hasBody(): boolean {
    return this.h.hasBody;
  }
  get grpc(): boolean {
    return this.h.grpc;
  }
  get upgrade(): string {
    return this.h.upgrade;
  }
  get remoteAddress(): string {
    return this.h.remoteAddress;
  }
  get remotePort(): number {
    return this.h.remotePort;
  }
  get peerPrincipal(): string | undefined {
    return this.h.peerPrincipal;
  }
  get localAddress(): string | undefined {
    return this.h.localAddress;
  }
  get peer(): DownstreamPeer | undefined {
    return this.h.peer;
  }
}

function lower(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

function setsName(set: readonly string[], name: string): boolean {
  for (let i = 0; i < set.length; i += 2) if (set[i] === name) return true;
  return false;
}

/**
 * One request's plugin state over the engine's view (core/plugin/plugin-run.ts): the core class
 * itself, not a subclass, as a derived class's implicit constructor was a measurable step of every
 * request's profile (FindNonDefaultConstructorOrConstruct).
 */
export type PluginRun = CorePluginRun<PluginExchangeView>;
export const PluginRun = CorePluginRun;
