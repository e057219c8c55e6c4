/**
 * Runs PluginTests cases (plugins/sdk/testing.ts) against loaded plugin handles: what each case
 * got (an outcome, plain JSON) and what differed from its expectation. Runtime-neutral, so
 * `weft plugin test` (Node) and the parity tests on Deno and workerd (test/runtime/plugins-parity)
 * run cases by the same code. The comparison is separate from the loading so it is testable
 * without a component.
 */
import type { EndpointCandidate, EndpointPickerHandle, FilterAction, HttpFilterHandle, L4Decision, L4PolicyHandle, PluginKind } from './contract.ts';
import { RecordedExchange } from './recorded-exchange.ts';
import type { EndpointPickerCase, HttpFilterCase, L4PolicyCase, PluginTests } from '../../plugins/sdk/testing.ts';

/** the differences, one line each; [] when the case passed */
export type Differences = string[];

export type PluginCase = PluginTests['cases'][number];

/** what an HTTP filter did: its last action and the headers after the last phase ran (sorted by name) */
export interface HttpFilterOutcome {
  kind: 'http-filter';
  action: FilterAction;
  requestHeaders: [string, string][];
  responseHeaders: [string, string][];
}
export interface L4Outcome {
  kind: 'l4-policy';
  decision: L4Decision;
}
export interface PickerOutcome {
  kind: 'endpoint-picker';
  order: number[];
}
export type CaseOutcome = HttpFilterOutcome | L4Outcome | PickerOutcome;

/** the handles a case may run against (one loaded plugin) */
export interface CaseHandles {
  filter?: HttpFilterHandle;
  l4?: L4PolicyHandle;
  picker?: EndpointPickerHandle;
}

const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

function expectEqual(out: Differences, what: string, want: unknown, got: unknown): void {
  if (want !== undefined && want !== got) out.push(`${what}: expected ${show(want)}, got ${show(got)}`);
}

function expectHeaders(out: Differences, what: string, want: Record<string, string | null> | undefined, got: Map<string, string>): void {
  if (!want) return;
  for (const [name, value] of Object.entries(want)) {
    const actual = got.get(name.toLowerCase());
    if (value === null) {
      if (actual !== undefined) out.push(`${what} ${name}: expected absent, got ${show(actual)}`);
    } else if (actual !== value) {
      out.push(`${what} ${name}: expected ${show(value)}, got ${actual === undefined ? 'absent' : show(actual)}`);
    }
  }
}

const sorted = (m: Map<string, string>): [string, string][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** what a case reports after a response phase: its `respond`, else what the request phases decided */
function later(before: FilterAction, after: FilterAction): FilterAction {
  return after.tag === 'respond' || before.tag === 'continue' ? after : before;
}

/** request phases, then (when the case gives a response and the request went on) response phases */
export function runHttpFilterCase(filter: HttpFilterHandle, c: HttpFilterCase): { action: FilterAction; x: RecordedExchange } {
  const CONTINUE: FilterAction = { tag: 'continue' };
  let x = new RecordedExchange(c.request);
  let action: FilterAction = CONTINUE;
  const times = Math.max(1, c.repeat ?? 1);
  for (let i = 0; i < times; i++) {
    x = new RecordedExchange(c.request);
    action = CONTINUE;
    const p = filter.phases;
    if (p.requestHeaders) action = filter.onRequestHeaders(x);
    if (action.tag === 'continue' && p.requestBody && c.request.body !== undefined) action = filter.onRequestBody(x, true);
    // the upstream answers unless a filter did (a route or cluster choice goes upstream too); the
    // response phases' `respond` replaces the answer, their other results change nothing
    if (action.tag !== 'respond' && c.response) {
      x.setResponse(c.response);
      if (p.responseHeaders) action = later(action, filter.onResponseHeaders(x));
      if (action.tag !== 'respond' && p.responseBody && c.response.body !== undefined) action = later(action, filter.onResponseBody(x, true));
    }
  }
  return { action, x };
}

function diffHttpFilterCase(c: HttpFilterCase, action: FilterAction, x: RecordedExchange): Differences {
  const out: Differences = [];
  const e = c.expect;
  expectEqual(out, 'action', e.action, action.tag);
  if (e.status !== undefined || e.body !== undefined) {
    if (action.tag !== 'respond') out.push(`expected a direct response, got ${action.tag}`);
    else {
      expectEqual(out, 'status', e.status, action.val.status);
      expectEqual(out, 'body', e.body, action.val.body);
    }
  }
  if (e.route !== undefined) expectEqual(out, 'route', e.route, action.tag === 'route' ? action.val : `(${action.tag})`);
  if (e.cluster !== undefined) expectEqual(out, 'cluster', e.cluster, action.tag === 'cluster' ? action.val : `(${action.tag})`);
  expectHeaders(out, 'request header', e.requestHeaders, x.requestHeaders);
  expectHeaders(out, 'response header', e.responseHeaders, x.responseHeaders);
  return out;
}

function httpFilterCase(filter: HttpFilterHandle, c: HttpFilterCase): { outcome: HttpFilterOutcome; diffs: Differences } {
  const { action, x } = runHttpFilterCase(filter, c);
  return {
    outcome: { kind: 'http-filter', action, requestHeaders: sorted(x.requestHeaders), responseHeaders: sorted(x.responseHeaders) },
    diffs: diffHttpFilterCase(c, action, x),
  };
}

export function checkHttpFilterCase(filter: HttpFilterHandle, c: HttpFilterCase): Differences {
  return httpFilterCase(filter, c).diffs;
}

function l4Case(policy: L4PolicyHandle, c: L4PolicyCase): { outcome: L4Outcome; diffs: Differences } {
  const k = c.connection;
  const d = policy.check({
    sourcePrincipal: k.sourcePrincipal ?? '',
    destinationPrincipal: k.destinationPrincipal ?? '',
    sourceAddress: k.sourceAddress ?? '127.0.0.1',
    sourcePort: k.sourcePort ?? 50000,
    destinationAddress: k.destinationAddress ?? '127.0.0.1',
    destinationPort: k.destinationPort ?? 80,
  });
  const outcome: L4Outcome = { kind: 'l4-policy', decision: d };
  if (d.tag === c.expect.decision) return { outcome, diffs: [] };
  return { outcome, diffs: [`decision: expected ${c.expect.decision}, got ${d.tag}${d.tag === 'deny' ? ` (${show(d.val)})` : ''}`] };
}

export function checkL4Case(policy: L4PolicyHandle, c: L4PolicyCase): Differences {
  return l4Case(policy, c).diffs;
}

function pickerCase(picker: EndpointPickerHandle, c: EndpointPickerCase): { outcome: PickerOutcome; diffs: Differences } {
  const candidates: EndpointCandidate[] = c.candidates.map((e) => ({
    address: e.address,
    labels: Object.entries(e.labels ?? {}),
    metrics: Object.entries(e.metrics ?? {}),
  }));
  const order = Array.from(picker.pick(new RecordedExchange(c.request), candidates));
  const want = c.expect.order;
  const outcome: PickerOutcome = { kind: 'endpoint-picker', order };
  if (order.length === want.length && order.every((v, i) => v === want[i])) return { outcome, diffs: [] };
  return { outcome, diffs: [`order: expected ${show(want)}, got ${show(order)}`] };
}

export function checkPickerCase(picker: EndpointPickerHandle, c: EndpointPickerCase): Differences {
  return pickerCase(picker, c).diffs;
}

/** One case against the plugin's handles, by the plugin's world; a case of the wrong shape is a difference. */
export function runCase(world: PluginKind, h: CaseHandles, c: PluginCase): { outcome?: CaseOutcome; diffs: Differences } {
  if (world === 'http-filter') {
    if (!('request' in c) || !('expect' in c) || 'candidates' in c) return { diffs: ['not an http-filter case (needs request and expect)'] };
    if (!h.filter) return { diffs: ['the component exports no filter'] };
    return httpFilterCase(h.filter, c as HttpFilterCase);
  }
  if (world === 'l4-policy') {
    if (!('connection' in c)) return { diffs: ['not an l4-policy case (needs connection)'] };
    if (!h.l4) return { diffs: ['the component exports no connection-policy'] };
    return l4Case(h.l4, c as L4PolicyCase);
  }
  if (!('candidates' in c)) return { diffs: ['not an endpoint-picker case (needs candidates)'] };
  if (!h.picker) return { diffs: ['the component exports no picker'] };
  return pickerCase(h.picker, c as EndpointPickerCase);
}

/** the case's own config, else the file's, as the JSON text a binding carries */
export function caseConfig(tests: PluginTests, c: PluginCase): string {
  return JSON.stringify(('config' in c && c.config !== undefined ? c.config : tests.config) ?? {});
}
