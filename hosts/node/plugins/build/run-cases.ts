/**
 * Runs PluginTests cases (plugins/sdk/testing.ts) against loaded plugin handles and says, per case,
 * what differed. Separate from the loading so the comparison logic is testable without a component.
 */
import type { EndpointCandidate, EndpointPickerHandle, FilterAction, HttpFilterHandle, L4PolicyHandle } from '../../../../core/plugin/contract.ts';
import { RecordedExchange } from '../../../../core/plugin/recorded-exchange.ts';
import type { EndpointPickerCase, HttpFilterCase, L4PolicyCase } from '../../../../plugins/sdk/testing.ts';

/** the differences, one line each; [] when the case passed */
export type Differences = string[];

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

/** request phases, then (when the case gives a response and the request went on) response phases */
function runExchange(filter: HttpFilterHandle, c: HttpFilterCase): { action: FilterAction; x: RecordedExchange } {
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
    if (action.tag === 'continue' && c.response) {
      x.setResponse(c.response);
      if (p.responseHeaders) action = filter.onResponseHeaders(x);
      if (action.tag === 'continue' && p.responseBody && c.response.body !== undefined) action = filter.onResponseBody(x, true);
    }
  }
  return { action, x };
}

export function checkHttpFilterCase(filter: HttpFilterHandle, c: HttpFilterCase): Differences {
  const { action, x } = runExchange(filter, c);
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

export function checkL4Case(policy: L4PolicyHandle, c: L4PolicyCase): Differences {
  const k = c.connection;
  const d = policy.check({
    sourcePrincipal: k.sourcePrincipal ?? '',
    destinationPrincipal: k.destinationPrincipal ?? '',
    sourceAddress: k.sourceAddress ?? '127.0.0.1',
    sourcePort: k.sourcePort ?? 50000,
    destinationAddress: k.destinationAddress ?? '127.0.0.1',
    destinationPort: k.destinationPort ?? 80,
  });
  if (d.tag === c.expect.decision) return [];
  return [`decision: expected ${c.expect.decision}, got ${d.tag}${d.tag === 'deny' ? ` (${show(d.val)})` : ''}`];
}

export function checkPickerCase(picker: EndpointPickerHandle, c: EndpointPickerCase): Differences {
  const candidates: EndpointCandidate[] = c.candidates.map((e) => ({
    address: e.address,
    labels: Object.entries(e.labels ?? {}),
    metrics: Object.entries(e.metrics ?? {}),
  }));
  const order = Array.from(picker.pick(new RecordedExchange(c.request), candidates));
  const want = c.expect.order;
  if (order.length === want.length && order.every((v, i) => v === want[i])) return [];
  return [`order: expected ${show(want)}, got ${show(order)}`];
}
