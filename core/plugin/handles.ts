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

const CONTINUE: FilterAction = Object.freeze({ tag: 'continue' });
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

export class HttpFilter implements HttpFilterHandle {
  readonly name: string;
  private readonly failAnswer: FilterAction;

  constructor(
    private readonly pool: InstancePool,
    readonly binding: PluginBinding,
    readonly phases: Readonly<Required<Phases>>,
  ) {
    this.name = binding.name;
    this.failAnswer =
      binding.failStrategy === 'FAIL_OPEN'
        ? CONTINUE
        : Object.freeze({ tag: 'respond', val: Object.freeze({ status: 503, headers: Object.freeze([]) as unknown as [], body: `plugin ${binding.name} failed\n` }) }) as FilterAction;
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
