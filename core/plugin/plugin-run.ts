/**
 * One request's HTTP filter plugins, runtime-neutral (design.md section 6): the PluginSet snapshot
 * the request started with (kept to its end), the filters for its listener port, the exchange view
 * the guests read and change, and what the request phases decided (respond, route, cluster). The
 * Node L7 proxy (hosts/node/l7-proxy/plugin-filters.ts) and the edge host (hosts/edge/) each give
 * it a view over their own request objects; the phase order and the "first route or cluster choice
 * wins" rule live here once.
 */
import type { DirectResponse, FilterAction, HttpExchangeView, HttpFilterHandle, PluginSet } from './contract.ts';
import type { ResponseEdits } from './response-edits.ts';

/** A response the response phase wants sent instead of the upstream's. */
export interface ReplacedResponse {
  status: number;
  headers: readonly string[];
  body: string;
}

/** What a host's view offers beyond the guest's HttpExchangeView: the body and the response head it is given. */
export interface PluginRunView extends HttpExchangeView {
  /** The request body as read for the request-body phase. */
  setRequestBody(body: Uint8Array): void;
  /** The response head the response phase reads and changes in place (a flat `[name, value, ...]` list). */
  setResponse(status: number, fields: string[]): void;
  /**
   * The index in the run's filter list of the filter being called (the endpoint picker: the list's
   * length), set by PluginRun before each request-phase call: a response-header change asked for
   * before the response exists is kept under it (response-edits.ts).
   */
  filterIndex: number;
  /** The response-header changes asked for in the request phases; undefined when there are none. */
  readonly responseEdits: ResponseEdits | undefined;
}

/**
 * One request's plugin state: the snapshot it started with (kept to its end), its filters, the
 * view, what the request phase decided, and the response-phase hook the engine calls.
 */
export class PluginRun<V extends PluginRunView = PluginRunView> {
  /** Whether the request-headers phase ran (it runs once, after the authorization filters). */
  requestDone = false;
  /** A filter's `route` choice (the first one wins). */
  routeName: string | undefined;
  /** A filter's `cluster` choice (the first one wins). */
  cluster: string | undefined;
  /** The filter that answered, chose the route or the cluster (access log, errors). */
  decidedBy: string | undefined;
  /** Whether a filter of this request wants the response-headers phase (without the edits kept for the response). */
  readonly #wantsResponsePhase: boolean;
  /** Whether a filter of this request wants the request-body phase (the body is then read whole first). */
  readonly wantsRequestBody: boolean;
  /** The endpoint the picker path counted as active (released at the end). */
  countedEndpoint: string | undefined;

  constructor(
    readonly set: PluginSet,
    readonly filters: readonly HttpFilterHandle[],
    readonly view: V,
  ) {
    let r = false;
    let b = false;
    // indexed loops on the per-request path: `for...of` over these (frozen) lists allocated an
    // iterator result per step in the gateway's heap profile
    for (let i = 0; i < filters.length; i++) {
      const p = filters[i]!.phases;
      if (p.responseHeaders) r = true;
      if (p.requestBody) b = true;
    }
    this.#wantsResponsePhase = r;
    this.wantsRequestBody = b;
  }

  /**
   * Whether the response head must come through onResponseHead: a filter wants the response-headers
   * phase, or a request phase asked for response-header changes. Read once the request phases ran.
   */
  get wantsResponse(): boolean {
    return this.#wantsResponsePhase || this.view.responseEdits !== undefined;
  }

  /** Request-headers phase in order; a `respond` stops it and is returned. */
  requestHeaders(): DirectResponse | undefined {
    this.requestDone = true;
    const view = this.view;
    const filters = this.filters;
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i]!;
      if (!f.phases.requestHeaders) continue;
      view.filterIndex = i;
      const answer = this.#decide(f, f.onRequestHeaders(view));
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /**
   * Request-body phase, in order, once with the whole body (end of stream): what Envoy's filters see
   * of a buffered body. A `respond` stops it; a route or cluster choice counts if none was made.
   */
  requestBody(body: Uint8Array): DirectResponse | undefined {
    const view = this.view;
    view.setRequestBody(body);
    const filters = this.filters;
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i]!;
      if (!f.phases.requestBody) continue;
      view.filterIndex = i;
      const answer = this.#decide(f, f.onRequestBody(view, true));
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /** The view for the endpoint picker's call (its response-header changes come first in the response order). */
  pickerView(): V {
    this.view.filterIndex = this.filters.length;
    return this.view;
  }

  #decide(f: HttpFilterHandle, a: FilterAction): DirectResponse | undefined {
    switch (a.tag) {
      case 'continue':
        return undefined;
      case 'respond':
        this.decidedBy = f.name;
        return a.val;
      case 'route':
      case 'cluster':
        if (this.routeName === undefined && this.cluster === undefined) {
          if (a.tag === 'route') this.routeName = a.val;
          else this.cluster = a.val;
          this.decidedBy = f.name;
        }
        return undefined;
    }
  }

  /**
   * The response head, before it goes downstream (the Node engine's ForwardOptions.responseHead): response-headers
   * filters in reverse order, changing `fields` in place; a `respond` replaces the response. The
   * changes a filter asked for in its request phases are made at its place in that order, before
   * its own response phase (the endpoint picker's first: it ran after every filter).
   */
  onResponseHead(status: number, fields: string[]): ReplacedResponse | undefined {
    const view = this.view;
    view.setResponse(status, fields);
    const filters = this.filters;
    const edits = view.responseEdits;
    if (edits !== undefined) edits.applyTo(view, filters.length);
    for (let i = filters.length - 1; i >= 0; i--) {
      const f = filters[i]!;
      if (edits !== undefined) edits.applyTo(view, i);
      if (!f.phases.responseHeaders) continue;
      const a = f.onResponseHeaders(view);
      if (a.tag === 'respond') {
        this.decidedBy = f.name;
        return { status: a.val.status, headers: flatHeaders(a.val), body: a.val.body };
      }
    }
    return undefined;
  }
}

/** A direct response's headers as the engine's flat list. */
export function flatHeaders(r: DirectResponse): string[] {
  const out: string[] = [];
  for (const h of r.headers) out.push(lower(h.name), h.value);
  return out;
}

function lower(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}
