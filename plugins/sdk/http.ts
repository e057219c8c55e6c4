/**
 * `@weft/plugin-sdk/http`: the HTTP exchange in flight (http-filter and endpoint-picker worlds only;
 * an l4-policy must not import this, its world has no `weft:plugin/http`).
 *
 * In a filter made by `defineFilter` (weft:plugin@0.2.0, outcome.ts):
 * - a header named in `headers()` is read from the values its call brought, with no host call;
 *   any other is asked of the host;
 * - a change (set, append, remove) is kept and goes back with the call's result, and later reads
 *   in the same call see it.
 * Elsewhere (an endpoint picker) reads and changes go to the host at once.
 *
 * An absent header comes back as `null` from a QuickJS guest's import (undefined elsewhere); these
 * always say `undefined`.
 */
/// <reference path="./wit.d.ts" />
import * as hostHttp from 'weft:plugin/http@0.2.0';
import { requestHeader, setHostHttp } from './outcome.ts';

// references only: nothing here calls the host at module level (it runs at build time)
setHostHttp(hostHttp);

export {
  requestHeader,
  responseHeader,
  responseStatus,
  setRequestHeader,
  appendRequestHeader,
  removeRequestHeader,
  setResponseHeader,
  appendResponseHeader,
  removeResponseHeader,
} from './outcome.ts';
export { requestBody, responseBody, sourcePrincipal, sourceAddress } from 'weft:plugin/http@0.2.0';

/** the request method */
export function method(): string {
  return requestHeader(':method') ?? '';
}
/** the path with query, as received */
export function path(): string {
  return requestHeader(':path') ?? '';
}
/** the authority (host) */
export function authority(): string {
  return requestHeader(':authority') ?? '';
}
/** http or https */
export function scheme(): string {
  return requestHeader(':scheme') ?? '';
}
