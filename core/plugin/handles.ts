/**
 * The data path's view of one loaded plugin version (contract.ts handles): each call refills the
 * fuel, sets the exchange, calls the guest, checks the result's shape, and turns any failure into
 * the failStrategy's answer. Calls never throw.
 */
import type {
  EndpointCandidate,
  EndpointPickerHandle,
  FilterAction,
  HttpExchangeView,
  HttpFilterHandle,
  L4Connection,
  L4Decision,
  L4PolicyHandle,
  PluginBinding,
  Phases,
} from './contract.ts';
import type { InstancePool } from './instance-pool.ts';
import { applyOutcome, CONTINUE, requestValues, responseValues } from './filter-outcome.ts';

const ALLOW: L4Decision = Object.freeze({ tag: 'allow' });
const NO_CHOICE: number[] = Object.freeze([]) as unknown as number[];

export class InvalidResultError extends Error {
  override name = 'InvalidResultError';
}

function isAction(r: any): boolean {
  if (r === null || typeof r !== 'object') return false;
  switch (r.tag) {
    case 'continue':
      return true;
    case 'respond':
      return r.val !== null && typeof r.val === 'object' && typeof r.val.status === 'number';
    case 'route':
    case 'cluster':
      return typeof r.val === 'string';
    default:
      return false;
  }
}

export function phasesOf(p: Phases | undefined): Readonly<Required<Phases>> {
  return Object.freeze({
    requestHeaders: !!p?.requestHeaders,
    requestBody: !!p?.requestBody,
    responseHeaders: !!p?.responseHeaders,
    responseBody: !!p?.responseBody,
  });
}

/** A weft:plugin@0.1.0 filter: it reads and changes the exchange through `http` calls during its call. */
export class HttpFilter implements HttpFilterHandle {
  readonly name: string;
  private readonly failAnswer: FilterAction;

  constructor(
    private readonly pool: InstancePool,
    readonly binding: PluginBinding,
    readonly phases: Readonly<Required<Phases>>,
  ) {
    this.name = binding.name;
    this.failAnswer = failAnswerOf(binding);
  }

  onRequestHeaders(x: HttpExchangeView): FilterAction {
    const g = this.pool.enter(x);
    if (g === undefined) return this.failAnswer;
    try {
      return this.checked(g.onRequestHeaders());
    } catch (e) {
      return this.failed(e);
    }
  }

  onRequestBody(x: HttpExchangeView, endOfStream: boolean): FilterAction {
    const g = this.pool.enter(x);
    if (g === undefined) return this.failAnswer;
    try {
      return this.checked(g.onRequestBody(endOfStream));
    } catch (e) {
      return this.failed(e);
    }
  }

  onResponseHeaders(x: HttpExchangeView): FilterAction {
    const g = this.pool.enter(x);
    if (g === undefined) return this.failAnswer;
    try {
      return this.checked(g.onResponseHeaders());
    } catch (e) {
      return this.failed(e);
    }
  }

  onResponseBody(x: HttpExchangeView, endOfStream: boolean): FilterAction {
    const g = this.pool.enter(x);
    if (g === undefined) return this.failAnswer;
    try {
      return this.checked(g.onResponseBody(endOfStream));
    } catch (e) {
      return this.failed(e);
    }
  }

  private checked(r: any): FilterAction {
    this.pool.leave();
    if (isAction(r)) return r;
    this.pool.fail(new InvalidResultError(`plugin ${this.name} returned an unknown action`), 'error');
    return this.failAnswer;
  }

  private failed(e: unknown): FilterAction {
    this.pool.fail(e);
    return this.failAnswer;
  }
}

const REQUEST_HEADERS = 0;
const REQUEST_BODY = 1;
const RESPONSE_HEADERS = 2;
const RESPONSE_BODY = 3;

/**
 * A weft:plugin@0.2.0 filter (filter-outcome.ts): the wanted headers' values go in with the call and
 * the header changes and the decision come back as one string, made on the exchange after the call.
 * A call that fails makes none of its changes (a 0.1.0 filter's changes made before a trap stay).
 */
export class PackedHttpFilter implements HttpFilterHandle {
  readonly name: string;
  private readonly failAnswer: FilterAction;

  constructor(
    private readonly pool: InstancePool,
    readonly binding: PluginBinding,
    readonly phases: Readonly<Required<Phases>>,
    /** request header names whose values each request-phase call gets */
    readonly requestNames: readonly string[],
    /** response header names (and `:status`) for each response-phase call */
    readonly responseNames: readonly string[],
  ) {
    this.name = binding.name;
    this.failAnswer = failAnswerOf(binding);
  }

  onRequestHeaders(x: HttpExchangeView): FilterAction {
    return this.call(x, REQUEST_HEADERS, false);
  }

  onRequestBody(x: HttpExchangeView, endOfStream: boolean): FilterAction {
    return this.call(x, REQUEST_BODY, endOfStream);
  }

  onResponseHeaders(x: HttpExchangeView): FilterAction {
    return this.call(x, RESPONSE_HEADERS, false);
  }

  onResponseBody(x: HttpExchangeView, endOfStream: boolean): FilterAction {
    return this.call(x, RESPONSE_BODY, endOfStream);
  }

  /** one phase's call: its values, the guest, its outcome (a switch, not a closure: nothing allocated per call) */
  private call(x: HttpExchangeView, phase: number, endOfStream: boolean): FilterAction {
    const response = phase >= RESPONSE_HEADERS;
    const names = response ? this.responseNames : this.requestNames;
    const values = names.length === 0 ? '' : response ? responseValues(x, names) : requestValues(x, names);
    const g = this.pool.enter(x);
    if (g === undefined) return this.failAnswer;
    let out: unknown;
    try {
      switch (phase) {
        case REQUEST_HEADERS:
          out = g.onRequestHeaders(values);
          break;
        case REQUEST_BODY:
          out = g.onRequestBody(values, endOfStream);
          break;
        case RESPONSE_HEADERS:
          out = g.onResponseHeaders(values);
          break;
        default:
          out = g.onResponseBody(values, endOfStream);
      }
    } catch (e) {
      return this.failed(e);
    }
    return this.outcome(out, x);
  }

  private outcome(out: unknown, x: HttpExchangeView): FilterAction {
    this.pool.leave();
    if (out === '') return CONTINUE;
    if (typeof out !== 'string') {
      this.pool.fail(new InvalidResultError(`plugin ${this.name} returned a ${typeof out}, not an outcome string`), 'error');
      return this.failAnswer;
    }
    try {
      return applyOutcome(out, x);
    } catch (e) {
      // the guest is fine; its answer is not: counted as its error, the instance recycled as for any failure
      this.pool.fail(new InvalidResultError(`plugin ${this.name} returned an outcome the host cannot read: ${e instanceof Error ? e.message : String(e)}`), 'error');
      return this.failAnswer;
    }
  }

  private failed(e: unknown): FilterAction {
    this.pool.fail(e);
    return this.failAnswer;
  }
}

/** FAIL_OPEN: continue; FAIL_CLOSE: a 503 naming the plugin */
function failAnswerOf(binding: PluginBinding): FilterAction {
  return binding.failStrategy === 'FAIL_OPEN'
    ? CONTINUE
    : (Object.freeze({ tag: 'respond', val: Object.freeze({ status: 503, headers: Object.freeze([]) as unknown as [], body: `plugin ${binding.name} failed\n` }) }) as FilterAction);
}

export class L4Policy implements L4PolicyHandle {
  readonly name: string;
  readonly workloads: readonly string[];
  private readonly failAnswer: L4Decision;

  constructor(
    private readonly pool: InstancePool,
    readonly binding: PluginBinding,
  ) {
    this.name = binding.name;
    this.workloads = Object.freeze([...binding.workloads]);
    this.failAnswer = binding.failStrategy === 'FAIL_OPEN' ? ALLOW : Object.freeze({ tag: 'deny', val: `plugin ${binding.name} failed` });
  }

  check(conn: L4Connection): L4Decision {
    const g = this.pool.enter(undefined);
    if (g === undefined) return this.failAnswer;
    try {
      const r = g.check(conn);
      this.pool.leave();
      if (r !== null && typeof r === 'object' && (r.tag === 'allow' || (r.tag === 'deny' && typeof r.val === 'string'))) return r;
      this.pool.fail(new InvalidResultError(`plugin ${this.name} returned an unknown decision`), 'error');
    } catch (e) {
      this.pool.fail(e);
    }
    return this.failAnswer;
  }
}

export class EndpointPicker implements EndpointPickerHandle {
  readonly name: string;

  constructor(
    private readonly pool: InstancePool,
    readonly binding: PluginBinding,
  ) {
    this.name = binding.name;
  }

  pick(x: HttpExchangeView, candidates: readonly EndpointCandidate[]): number[] {
    const g = this.pool.enter(x);
    if (g === undefined) return NO_CHOICE;
    try {
      const r = g.pick(candidates);
      this.pool.leave();
      // jco lifts list<u32> as an array or a Uint32Array
      if (r !== null && typeof r === 'object' && typeof r.length === 'number') {
        const n = candidates.length;
        const out: number[] = new Array(r.length);
        let ok = true;
        for (let i = 0; i < r.length; i++) {
          const v = r[i];
          if (typeof v !== 'number' || v >= n || v < 0) ok = false;
          out[i] = v;
        }
        if (ok) return out;
      }
      this.pool.fail(new InvalidResultError(`plugin ${this.name} returned an index out of range`), 'error');
    } catch (e) {
      this.pool.fail(e);
    }
    return NO_CHOICE;
  }
}
