/**
 * The fake API server's protocol details (test/support/fake-kube-apiserver.ts): Status objects,
 * discovery resource lists, version order, selectors and merge patches, as kube-apiserver does them.
 */
import type { ResourceDef } from './fake-kube-resources.ts';

export type Obj = Record<string, any> & { metadata: Record<string, any> };

export class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

export function withVersion(o: Obj, apiVersion: string): Obj {
  return { ...structuredClone(o), apiVersion };
}

export function statusObject(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export function resourceList(groupVersion: string, defs: ResourceDef[]) {
  const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: defs.flatMap((d) => [
      { name: d.plural, singularName: d.kind.toLowerCase(), namespaced: d.namespaced, kind: d.kind, verbs },
      ...(d.crd ? [{ name: `${d.plural}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] }] : []),
    ]),
  };
}

/** Kubernetes orders versions GA > beta > alpha, higher numbers first. */
export function versionOrder(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    return [m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
}

/** Field (`metadata.name=x`, `type!=y`) and label (`k=v`, `k!=v`, `k`, `!k`) selectors, as far as the tests need. */
export function selector(q: URLSearchParams): (o: Obj) => boolean {
  const field = (q.get('fieldSelector') ?? '').split(',').filter(Boolean).map((t) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t);
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector ${t}`);
    return { path: m[1]!.split('.'), neg: m[2] === '!=', value: m[3]! };
  });
  const label = (q.get('labelSelector') ?? '').split(',').filter(Boolean).map((t) => {
    const m = /^(!?)([^!=]+)(?:(!=|==|=)(.*))?$/.exec(t);
    if (!m) throw new HttpError(400, 'BadRequest', `invalid label selector ${t}`);
    return { not: m[1] === '!', key: m[2]!, op: m[3], value: m[4] };
  });
  return (o) =>
    field.every((f) => (String(f.path.reduce<any>((v, k) => v?.[k], o) ?? '') === f.value) !== f.neg) &&
    label.every((l) => {
      const v = o.metadata.labels?.[l.key] as string | undefined;
      if (!l.op) return l.not ? v === undefined : v !== undefined;
      return (v === l.value) !== (l.op === '!=');
    });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = mergePatch(out[k], v);
  }
  return out;
}
