/** Test helpers: requests over FlatHeaders, and RouteConfiguration builders (plain static-object shapes). */
import type { envoy } from '../xds/generated/xds-pb.js';
import { FlatHeaders } from './types.ts';
import type { RouteRequest } from './types.ts';

export type RouteProto = envoy.config.route.v3.Route.$Properties;
export type RouteConfigurationProto = envoy.config.route.v3.RouteConfiguration.$Properties;

export interface ReqInit {
  method?: string;
  authority?: string;
  scheme?: string;
  headers?: Record<string, string | string[]>;
  sourceIp?: string;
}

export function request(target: string, init: ReqInit = {}): RouteRequest & { headers: FlatHeaders } {
  const list: string[] = [];
  for (const [k, v] of Object.entries(init.headers ?? {})) for (const one of Array.isArray(v) ? v : [v]) list.push(k, one);
  const headers = new FlatHeaders(list);
  return {
    method: init.method ?? 'GET',
    scheme: init.scheme ?? 'http',
    authority: init.authority ?? 'example.com',
    target,
    sourceIp: init.sourceIp,
    headers,
    header: (n: string) => headers.get(n),
  };
}

/** One virtual host `*` with the given routes. */
export function config(routes: RouteProto[], domains: string[] = ['*']): RouteConfigurationProto {
  return { name: 'test', virtualHosts: [{ name: 'vh', domains, routes }] };
}

export const to = (cluster: string): envoy.config.route.v3.RouteAction.$Properties => ({ cluster });
