/**
 * `@weft/plugin-sdk/http`: the HTTP exchange in flight (http-filter and endpoint-picker worlds only;
 * an l4-policy must not import this, its world has no `weft:plugin/http`).
 *
 * Thin wrappers over the host imports that smooth one engine difference: an absent header comes
 * back as `null` from a QuickJS guest's import (undefined elsewhere); these always say `undefined`.
 * Everything else is the import itself, re-exported (no wrapper, no cost).
 */
/// <reference path="./wit.d.ts" />
import { requestHeader as hostRequestHeader, responseHeader as hostResponseHeader } from 'weft:plugin/http@0.1.0';

export {
  method,
  scheme,
  authority,
  path,
  setRequestHeader,
  appendRequestHeader,
  removeRequestHeader,
  requestBody,
  responseStatus,
  setResponseHeader,
  appendResponseHeader,
  removeResponseHeader,
  responseBody,
  sourcePrincipal,
  sourceAddress,
} from 'weft:plugin/http@0.1.0';

/** a request header by (case-insensitive) name; undefined when absent */
export function requestHeader(name: string): string | undefined {
  return hostRequestHeader(name) ?? undefined;
}

/** a response header by name (response phases); undefined when absent */
export function responseHeader(name: string): string | undefined {
  return hostResponseHeader(name) ?? undefined;
}
