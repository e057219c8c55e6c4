/**
 * request/response_headers_to_add and _to_remove, compiled into a flat list of small ops applied
 * to the engine's MutableHeaders. Per level (weighted cluster, route, virtual host, route
 * configuration, in that order as Envoy applies them) removals come first, then additions, each with
 * its append_action: APPEND_IF_EXISTS_OR_ADD (the default; the deprecated `append: true`),
 * ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD (`append: false`), OVERWRITE_IF_EXISTS. An empty
 * value is skipped unless keep_empty_value. Values are literal: Envoy's `%%` escape becomes `%`,
 * other `%COMMAND%` formatters are not evaluated (the translator writes none).
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { set } from './proto.ts';
import type { MutableHeaders } from './types.ts';
import { RouteCompileError } from './types.ts';

type HeaderValueOptionProto = envoy.config.core.v3.HeaderValueOption.$Properties;

export const enum HeaderOpKind {
  Remove = 0,
  Append = 1,
  AddIfAbsent = 2,
  Overwrite = 3,
  OverwriteIfExists = 4,
}

export interface HeaderOp {
  readonly kind: HeaderOpKind;
  readonly name: string;
  readonly value: string;
}

export type HeaderOps = readonly HeaderOp[];

export const NO_HEADER_OPS: HeaderOps = Object.freeze([]) as HeaderOps;

/** Applies `ops` in order. Allocates nothing beyond what the header structure does. */
export function applyHeaderOps(ops: HeaderOps, headers: MutableHeaders): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    switch (op.kind) {
      case HeaderOpKind.Remove:
        headers.remove(op.name);
        break;
      case HeaderOpKind.Append:
        headers.add(op.name, op.value);
        break;
      case HeaderOpKind.AddIfAbsent:
        if (!headers.has(op.name)) headers.add(op.name, op.value);
        break;
      case HeaderOpKind.Overwrite:
        headers.set(op.name, op.value);
        break;
      case HeaderOpKind.OverwriteIfExists:
        if (headers.has(op.name)) headers.set(op.name, op.value);
        break;
    }
  }
}

const ACTIONS = [HeaderOpKind.Append, HeaderOpKind.AddIfAbsent, HeaderOpKind.Overwrite, HeaderOpKind.OverwriteIfExists];

/** One level's ops: removals, then additions. */
export function compileHeaderOps(add: readonly HeaderValueOptionProto[] | null | undefined, remove: readonly string[] | null | undefined, path: string): HeaderOp[] {
  const ops: HeaderOp[] = [];
  for (const name of remove ?? []) ops.push({ kind: HeaderOpKind.Remove, name: name.toLowerCase(), value: '' });
  (add ?? []).forEach((o, i) => {
    const p = `${path}[${i}]`;
    const key = o.header?.key?.toLowerCase();
    if (!key) throw new RouteCompileError(p, 'header without a key');
    if (key.startsWith(':') || key === 'host') throw new RouteCompileError(p, `${key} cannot be set by header mutation (use host_rewrite_literal)`);
    let value = o.header?.value ?? '';
    if (!value && o.header?.rawValue?.length) value = new TextDecoder().decode(o.header.rawValue);
    value = value.replaceAll('%%', '%');
    if (value === '' && o.keepEmptyValue !== true) return;
    let kind: HeaderOpKind;
    if (set(o.append)) {
      if ((o.appendAction ?? 0) !== 0) throw new RouteCompileError(p, 'append and append_action are both set');
      kind = o.append.value === false ? HeaderOpKind.Overwrite : HeaderOpKind.Append;
    } else {
      kind = ACTIONS[o.appendAction ?? 0] ?? HeaderOpKind.Append;
    }
    ops.push({ kind, name: key, value });
  });
  return ops;
}

/** Concatenates levels (most specific first), sharing the empty list. */
export function joinOps(...levels: HeaderOps[]): HeaderOps {
  const out = levels.flat();
  return out.length === 0 ? NO_HEADER_OPS : Object.freeze(out);
}
